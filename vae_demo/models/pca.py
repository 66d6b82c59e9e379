"""PCA: the linear baseline, fit in closed form (eigen-decomposition of the covariance)."""

from __future__ import annotations

import torch

from vae_demo.language import N_
from vae_demo.models.base import Autoencoder, LatentScores, register


@register("pca")
class PCA(Autoencoder):
    trainable = False
    description = "PCA (linear, closed form)"
    family = "PCA"
    nested_code = True  # its components come in order of variance
    FIXED = ("recon",)  # closed form: its reconstruction measure is squared error, not a choice

    def __init__(self, image_shape, latent_dim: int, recon: str = "mse", max_components: int = 64):
        super().__init__(image_shape, latent_dim, recon)
        dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.max_components = max(int(max_components), int(latent_dim))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("components", torch.zeros(self.max_components, dim))
        self.register_buffer("variances", torch.zeros(self.max_components))

    def hparams(self):
        return {"recon": self.recon, "max_components": self.max_components}

    @torch.no_grad()
    def fit(self, x: torch.Tensor, batch: int = 8192) -> None:
        """Fit on images ``x`` (N, C, H, W) in [0, 1]."""
        flat = x.flatten(1).double()
        mean = flat.mean(0)
        cov = torch.zeros(flat.shape[1], flat.shape[1], dtype=torch.float64, device=x.device)
        for i in range(0, len(flat), batch):
            d = flat[i:i + batch] - mean
            cov += d.T @ d
        cov /= max(len(flat) - 1, 1)
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        k = min(self.max_components, flat.shape[1])
        order = torch.argsort(evals, descending=True)[:k]
        self.mean.copy_(mean.float())
        self.components.zero_()
        self.components[:k] = evecs[:, order].T.float()
        self.variances.zero_()
        self.variances[:k] = evals[order].clamp_min(0).float()

    def encode(self, x):
        return (x.flatten(1) - self.mean) @ self.components[: self.latent_dim].T

    def decode(self, z):
        # narrow, not a slice: traceable (vae_demo.export), and a code of the first k dims decodes with those
        flat = z @ self.components.narrow(0, 0, z.shape[1]) + self.mean
        return flat.clamp(0, 1).view(-1, *self.image_shape)

    def decode_logits(self, z):
        p = self.decode(z).clamp(1e-6, 1 - 1e-6)
        return torch.log(p) - torch.log1p(-p)

    def loss(self, x_in, x_target=None, mask=None):
        x_target = x_in if x_target is None else x_target
        err = (self.reconstruct(x_in) - x_target).pow(2).flatten(1).sum(1).mean()
        return {"recon": err, "loss": err}

    def latent_scores(self, x=None, codes=None) -> LatentScores:
        """PCA's dims are its principal components: each carries its eigenvalue (the variance it explains),
        and a slider unit is one standard deviation along it."""
        var = self.variances[: self.latent_dim].double().cpu()
        return LatentScores(torch.zeros_like(var), var.clamp_min(1e-12).sqrt(), var,
                            N_("variance explained (eigenvalue)"), N_("eigenvalue {:.3g}"))

"""VQ-VAE: a vector-quantised autoencoder (van den Oord, Vinyals and Kavukcuoglu 2017, arXiv 1711.00937).

The encoder maps an image to a grid of vectors z_e (two stride-2 convolutions: 28×28 → 7×7, 32×32 →
8×8). Each vector is replaced by its nearest codebook vector e_k, so the code is a grid of *indices*
k, a discrete latent; the decoder maps the quantised grid z_q back to an image.

- **Straight-through estimator.** argmin has no gradient; the decoder's gradient at z_q is copied onto
  z_e (``z_q = z_e + sg[e − z_e]``), so the encoder still learns.
- **Loss terms.** ``recon`` (BCE or squared error summed over pixels), ``codebook`` ‖sg[z_e] − e‖² (moves
  the codebook towards the encoder's outputs) and ``commitment`` ‖z_e − sg[e]‖² (keeps the encoder
  near its codes), weighted by β = 0.25 as in the paper; both summed over the grid, per image. The
  codebook is learned by its loss term, not by EMA updates: that is the paper's main formulation, and
  the term shows on the Train tab's curves beside the others.
- **Dead-code restarts.** A known failure is codebook collapse: a few codes win early and the rest never
  move again. Each code's share of the cells is tracked (an exponential moving average over training
  batches, a buffer saved with the weights); a code whose share falls below 1/(16 K) is moved onto a
  random encoder output of the current batch, so every code stays in play. At the first training
  batch every code starts that way (the usual data-dependent initialisation).
- There is no learned prior over the codes here (the paper fits a PixelCNN): "sample" would be a
  uniform draw, so the model is not ``generative`` and has no likelihood of its own.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vae_demo.language import N_
from vae_demo.models.base import Autoencoder, LatentScores, code_usage, register
from vae_demo.settings import Setting

USAGE_DECAY = 0.95  # the moving average of each code's share of the cells (over ~20 batches)
DEAD_SHARE = 1 / 16  # ... below this fraction of a fair share (1/K), a code is restarted


@register("vqvae")
class VQVAE(Autoencoder):
    description = "VQ-VAE (a grid of discrete codes)"
    family = "VQ-VAE"
    discrete = True
    SETTINGS = (
        Setting("channels", "ints", "channels of the two stride-2 conv layers, e.g. 32,64", lo=1, hi=1024,
                ui=False),
        Setting("codebook_size", "int", "K, the number of code vectors (each grid cell stores log2 K bits)",
                lo=2, hi=4096, label="Codebook size K", slider=(4, 512, 4), tag="k{}"),
        Setting("commitment_weight", "float", "β, the weight of the commitment term (0.25 in the paper)",
                lo=0, hi=10, label="Commitment weight β", slider=(0, 2, 0.05), tag="c{:g}"),
    )

    def __init__(self, image_shape, latent_dim, recon="bce", channels=None, codebook_size=128,
                 commitment_weight=0.25):
        super().__init__(image_shape, latent_dim, recon)
        c, h, w = self.image_shape
        self.channels = tuple(int(ch) for ch in (channels or (32, 64)))
        if len(self.channels) != 2:
            raise ValueError(f"vqvae: channels takes two values (its two stride-2 layers), got {self.channels}")
        self.codebook_size = int(codebook_size)
        self.commitment_weight = float(commitment_weight)
        c1, c2 = self.channels
        d = self.latent_dim  # the size of each code vector
        self.encoder = nn.Sequential(
            nn.Conv2d(c, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c2, d, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(d, c2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, c, 4, stride=2, padding=1),
        )
        self.code_grid = ((h + 3) // 4, (w + 3) // 4)
        self.embedding = nn.Embedding(self.codebook_size, d)
        self.embedding.weight.data.uniform_(-1 / self.codebook_size, 1 / self.codebook_size)
        self.register_buffer("usage", torch.full((self.codebook_size,), 1 / self.codebook_size))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))  # codebook set from data yet?

    def hparams(self):
        return {**super().hparams(), "channels": list(self.channels), "codebook_size": self.codebook_size,
                "commitment_weight": self.commitment_weight}

    # --- the code ---
    # (no Python branching on the input: decode traces into plain ops, for the browser's copy, vae_demo.export)
    def _grid(self, z: torch.Tensor) -> torch.Tensor:
        """A flat code (N, h·w·D) or a grid (N, D, h, w), as a grid."""
        return z.reshape(-1, self.latent_dim, *self.code_grid)

    def _nearest(self, z_e: torch.Tensor) -> torch.Tensor:
        """(N, h, w) indices of the codebook vectors nearest to the grid z_e (N, D, h, w), in float32:
        argmin_k ‖f − e_k‖² = argmin_k (‖e_k‖² − 2 f·e_k), as ‖f‖² is the same for every k."""
        flat = z_e.float().permute(0, 2, 3, 1).reshape(-1, self.latent_dim)
        book = self.embedding.weight.float()
        dist = book.pow(2).sum(1) - 2 * (flat @ book.t())
        return dist.argmin(1).view(-1, *self.code_grid)

    def _vectors(self, codes: torch.Tensor) -> torch.Tensor:
        return self.embedding(codes.long()).permute(0, 3, 1, 2)

    def encode(self, x):
        """The encoder's vectors before quantisation, flattened (what interpolation moves along)."""
        return self.encoder(x).flatten(1)

    def decode_logits(self, z):
        z_e = self._grid(z)
        return self.decoder(self._vectors(self._nearest(z_e)).to(z_e.dtype))

    def codes(self, x):
        return self._nearest(self.encoder(self.with_mask(x)))

    @torch.no_grad()
    def decode_codes(self, codes):
        return torch.sigmoid(self.decoder(self._vectors(codes.to(self.device))))

    def codebook(self):
        return self.embedding.weight.detach()

    # --- training ---
    def loss(self, x_in, x_target=None, mask=None):
        x_target = x_in if x_target is None else x_target
        z_e = self.encoder(self.with_mask(x_in, mask))
        codes = self._nearest(z_e)
        e = self._vectors(codes).to(z_e.dtype)
        codebook = (z_e.detach() - e).pow(2).flatten(1).sum(1).mean()
        commitment = (z_e - e.detach()).pow(2).flatten(1).sum(1).mean()
        z_q = z_e + (e - z_e).detach()  # straight through: the decoder's gradient reaches the encoder
        recon = self.recon_loss(self.decoder(z_q), x_target).mean()
        if self.training and torch.is_grad_enabled():
            self._restart_dead_codes(codes, z_e)
        return {"recon": recon, "codebook": codebook, "commitment": commitment,
                "loss": recon + codebook + self.commitment_weight * commitment}

    @torch.no_grad()
    def _restart_dead_codes(self, codes: torch.Tensor, z_e: torch.Tensor) -> None:
        if not self.started:  # the first batch: every code starts on an encoder output (all of them dead)
            self.usage.zero_()
            self.started.fill_(True)
        share = torch.bincount(codes.reshape(-1), minlength=self.codebook_size).float() / codes.numel()
        self.usage.mul_(USAGE_DECAY).add_(share, alpha=1 - USAGE_DECAY)
        dead = (self.usage < DEAD_SHARE / self.codebook_size).nonzero().flatten()
        if len(dead):
            outputs = z_e.detach().float().permute(0, 2, 3, 1).reshape(-1, self.latent_dim)
            pick = torch.randint(len(outputs), (len(dead),), device=outputs.device)
            self.embedding.weight.data[dead] = outputs[pick].to(self.embedding.weight.dtype)
            self.usage[dead] = 1 / self.codebook_size

    @torch.no_grad()
    def latent_scores(self, x=None, codes=None) -> LatentScores:
        """One score per codebook entry: its share of the grid cells of the test images ``x``."""
        k = self.codebook_size
        zeros, ones = torch.zeros(k, dtype=torch.float64), torch.ones(k, dtype=torch.float64)
        if x is None or not len(x):
            return LatentScores(zeros, ones, self.usage.double().cpu(), N_("share of cells (training average)"),
                                N_("{:.1%} of cells"))
        idx = torch.cat([self.codes(x[i:i + 500].to(self.device)).cpu() for i in range(0, len(x), 500)])
        counts = code_usage(idx, k).counts
        return LatentScores(zeros, ones, counts / counts.sum(), N_("share of the test images' cells"),
                            N_("{:.1%} of cells"))

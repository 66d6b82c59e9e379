"""The one interface shared by every model.

- ``encode(x)``: the encoder's raw output; ``posterior(x)``: q(z | x) as an object with ``mode()``,
  ``sample()`` and ``kl()`` (:class:`PointPosterior` for autoencoders, :class:`GaussianPosterior` for VAEs),
  which is what the rest of the project uses. Models whose ``has_latent_code``
  is False (the U-Net restorer) return feature maps instead: they restore, but have no z to explore.
- ``embed(x)``: the deterministic latent code (a VAE's posterior mean) for every model.
- ``decode(z)``: images in [0, 1].
- ``reconstruct(x, mask=None)``: ``decode(embed(x))``, deterministic (no sampling).
- ``loss(x_in, x_target, mask=None)``: dict of named per-image terms: ``recon`` (BCE or squared
  error summed over pixels), ``kl`` (VAEs, closed form, times β in ``loss``) and ``loss``, all means
  over the batch. Training a denoiser is just ``loss(corrupted, clean)``.
- ``mask``: the damage mask of a corruption (N, 1, H, W), 1 where a pixel was destroyed. Only a
  model built with ``mask_input=True`` (kinds that ``takes("mask_input")``) sees it, as one more
  input channel: it is *told* which pixels are missing, as classical inpainting is. With no mask
  (``None``) that channel is zeros: "nothing known to be missing". Other models ignore it.
- ``sample(n)``: draws from the prior (generative models only).
- ``family``: what the model is, in a word, for the UI ("autoencoder", "VAE", "PCA", ...).
- A *conditional* model (``num_classes`` K > 0, a cVAE) is told the class: its code is z followed by K class
  weights, ``loss(..., labels=y)`` trains with the true class, ``with_class(code, classes)`` sets a code's class
  and ``classify(x)`` reads an image's class. Every other model ignores labels.
- ``latent_scores(x, codes)``: how its latent dims read in the app, from test images ``x`` and/or
  their codes: the dims' standard units (mean, std) and how much each carries (the sliders' order),
  as the model defines it (VAE: mean KL per dim; PCA: eigenvalue; autoencoder: code variance).
- VAEs also give ``iw_log_likelihood(x)``: the importance-weighted log-likelihood and the ELBO.
- A model whose ``discrete`` is True has a *discrete code* (a VQ-VAE): a grid of ``code_grid`` (h, w)
  cells, each an index into a codebook of ``codebook_size`` vectors. It gives ``codes(x)`` (N, h, w)
  indices, ``decode_codes(codes)`` images, and ``codebook()`` (K, D) vectors. Its ``embed`` is the
  encoder's vectors *before* quantisation, flattened (N, h·w·D), and ``decode`` quantises what it is
  given, so reconstruction, interpolation and every tab work on it as on any model; the app adds a
  code-grid editor and a codebook map for it. ``latent_scores`` then scores the codebook entries (by use).
  ``latent_bits()``: the code's size in bits (h·w·log2 K), None for float codes.
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from vae_demo.language import N_
from vae_demo.settings import Setting, collect

MODELS: dict[str, type[Autoencoder]] = {}


class Posterior:
    """q(z | x) for a batch, as the app and the losses use an encoder's output: ``mode()`` the most likely
    code (what ``embed`` gives), ``sample()`` a draw, ``kl()`` per image to the prior (None: no prior)."""

    def mode(self) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def kl(self) -> torch.Tensor | None:
        return None

    def code(self, z: torch.Tensor) -> torch.Tensor:
        """The whole code ``decode`` takes for latent values ``z`` drawn from this posterior: ``z`` itself, or
        with what else the code carries (a conditional model's class)."""
        return z


class PointPosterior(Posterior):
    """A deterministic code (autoencoder, PCA): every draw is the code itself."""

    def __init__(self, z: torch.Tensor):
        self.z = z

    def mode(self):
        return self.z

    def sample(self, generator=None):
        return self.z


class GaussianPosterior(Posterior):
    """N(mu, diag exp(logvar)), a VAE's: draws by the reparameterization z = mu + sigma * eps; KL to N(0, I)
    in closed form."""

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor):
        self.mu, self.logvar = mu, logvar

    @property
    def std(self) -> torch.Tensor:
        return (0.5 * self.logvar).exp()

    def mode(self):
        return self.mu

    def sample(self, generator=None):
        if generator is None:
            return self.mu + torch.randn_like(self.mu) * self.std
        eps = torch.randn(self.mu.shape, generator=generator).to(self.mu.device, self.mu.dtype)
        return self.mu + eps * self.std

    def kl_per_dim(self) -> torch.Tensor:
        """KL(q(z_d | x) ‖ N(0, 1)) per image and dim: ½(μ² + σ² − 1 − log σ²)."""
        return 0.5 * (self.mu.pow(2) + self.logvar.exp() - 1 - self.logvar)

    def kl(self):
        return self.kl_per_dim().sum(1)


class CodeUsage(NamedTuple):
    """How a discrete model uses its codebook over some images: ``counts`` per code (K,), ``perplexity``
    exp(entropy of the code distribution): K when all codes are used equally, 1 when one code does
    everything), and ``used`` the share of the K codes that appear at all."""

    counts: torch.Tensor
    perplexity: float
    used: float


def code_usage(codes: torch.Tensor, k: int) -> CodeUsage:
    """:class:`CodeUsage` of the indices ``codes`` (any shape) into a codebook of ``k`` entries."""
    counts = torch.bincount(codes.reshape(-1).long().cpu(), minlength=k)[:k].double()
    p = counts / counts.sum().clamp_min(1)
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return CodeUsage(counts, float(entropy.exp()), float((counts > 0).double().mean()))


class LatentScores(NamedTuple):
    """How a model's latent dims read: ``mean``/``std`` per dim (a slider at v means z = mean + v·std),
    ``score`` per dim (larger carries more: the sliders' order), ``what`` the score is, and ``unit`` how one
    dim's score reads on its slider (a format string, e.g. "KL {:.2f} nats"; empty when unordered)."""

    mean: torch.Tensor
    std: torch.Tensor
    score: torch.Tensor
    what: str
    unit: str


def _unordered(d: int) -> LatentScores:
    return LatentScores(torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64),
                        torch.zeros(d, dtype=torch.float64), N_("unordered (no encodings stored)"), "")


def register(name: str):
    def deco(cls):
        cls.kind = name
        MODELS[name] = cls
        return cls

    return deco


def build_model(kind: str, image_shape, latent_dim: int, **hparams) -> Autoencoder:
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    return MODELS[kind](tuple(image_shape), int(latent_dim), **hparams)


class Autoencoder(nn.Module):
    kind = "autoencoder"
    generative = False  # True for models with a prior to sample from
    gaussian_posterior = False  # True: posterior() is a GaussianPosterior (μ, σ, KL per dim)
    trainable = True  # False for closed-form models (PCA)
    has_latent_code = True  # False when encode() gives feature maps, not a vector z (U-Net)
    nested_code = False  # True when the first d dims are the best d-dim code (PCA): the app can truncate it
    discrete = False  # True: the code is a grid of codebook indices (see codes(), decode_codes(), codebook())
    code_grid: tuple[int, int] = (0, 0)  # discrete models: the grid's (h, w)
    codebook_size = 0  # discrete models: K
    channels_last = False  # True: train with channels-last weights (~25% faster for full-size convs)
    mask_input = False
    # conditional models: the number of classes the decoder is told. Their code (what ``embed`` gives and
    # ``decode`` takes) is the latent z followed by K class weights; ``loss`` takes ``labels=``, and
    # ``with_class(code, classes)`` sets a code's class (labels (N,) or weights (N, K))
    num_classes = 0
    description = ""
    family = "autoencoder"  # a word for the UI
    # the hyperparameters, declared once (see vae_demo.settings): the CLI, the Train tab, the default
    # checkpoint name and the config's checks all come from these and the constructor's defaults
    SETTINGS = (Setting("recon", "choice", "reconstruction loss: bce (binary cross-entropy, for intensities in "
                        "[0, 1]) or mse (squared error)", choices=("bce", "mse"), label="Reconstruction loss",
                        ui=False),)

    @classmethod
    def settings(cls) -> dict[str, Setting]:
        """This kind's hyperparameters by name, each with this kind's default (its constructor's)."""
        return collect(cls, inspect.signature(cls.__init__).parameters)

    @classmethod
    def takes(cls, setting: str) -> bool:
        """Does this kind take ``setting`` (``beta``, ``channels``, ``mask_input`` ...)? Its declarations say."""
        return setting in cls.settings()

    def __init__(self, image_shape, latent_dim: int, recon: str = "bce"):
        super().__init__()
        if recon not in ("bce", "mse"):
            raise ValueError(f"recon must be 'bce' or 'mse', got {recon!r}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)
        self.recon = recon

    # --- to be provided by each model ---
    def encode(self, x):
        raise NotImplementedError

    def decode_logits(self, z):
        raise NotImplementedError

    def hparams(self) -> dict:
        """Constructor arguments besides image_shape and latent_dim (saved with checkpoints)."""
        return {"recon": self.recon}

    # --- shared ---
    @property
    def code_length(self) -> int:
        """The length of the flat code ``embed`` gives and ``decode`` takes: ``latent_dim``, then a conditional
        model's class weights; a discrete model's whole grid of vectors (h·w·D)."""
        if self.discrete:
            return self.code_grid[0] * self.code_grid[1] * self.latent_dim
        return self.latent_dim + self.num_classes

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def posterior(self, x) -> Posterior:
        """q(z | x): for an autoencoder the code itself."""
        return PointPosterior(self.encode(x))

    def embed(self, x):
        return self.posterior(x).mode()

    def with_mask(self, x, mask=None):
        """The input as the model sees it: for a mask-input model, ``x`` and the mask as one more
        channel (zeros when ``mask`` is None); for every other model ``x`` itself."""
        if not self.mask_input or x.shape[1] == self.image_shape[0] + 1:
            return x
        m = torch.zeros_like(x[:, :1]) if mask is None else mask.to(device=x.device, dtype=x.dtype)
        return torch.cat([x, m], dim=1)

    def decode(self, z):
        return torch.sigmoid(self.decode_logits(z))

    @torch.no_grad()
    def reconstruct(self, x, mask=None):
        return self.decode(self.embed(self.with_mask(x, mask)))

    def recon_loss(self, logits, target):
        if self.recon == "bce":
            per = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            per = (torch.sigmoid(logits) - target) ** 2
        return per.flatten(1).sum(1)

    def loss(self, x_in, x_target=None, mask=None):
        x_target = x_in if x_target is None else x_target
        recon = self.recon_loss(self.decode_logits(self.encode(self.with_mask(x_in, mask))), x_target).mean()
        return {"recon": recon, "loss": recon}

    def sample(self, n: int, generator=None):
        raise NotImplementedError(f"{self.kind} is not generative: it has no prior to sample from")

    # --- discrete codes (models with ``discrete = True``) ---
    def codes(self, x) -> torch.Tensor:
        """(N, h, w) codebook indices of images ``x``."""
        raise NotImplementedError(f"{self.kind} has no discrete code")

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from (N, h, w) codebook indices."""
        raise NotImplementedError(f"{self.kind} has no discrete code")

    def codebook(self) -> torch.Tensor:
        """The (K, D) code vectors."""
        raise NotImplementedError(f"{self.kind} has no discrete code")

    def latent_bits(self) -> float | None:
        """The code's size in bits: cells × log2(codebook size) for a discrete code; None for a float code
        (its size is ``latent_dim`` real numbers)."""
        if not self.discrete:
            return None
        h, w = self.code_grid
        return h * w * math.log2(self.codebook_size)

    @torch.no_grad()
    def latent_scores(self, x: torch.Tensor | None = None, codes: torch.Tensor | None = None) -> LatentScores:
        """An autoencoder's code has no prior: its units are the test codes' own mean and spread, and a
        dim carries as much as its codes vary."""
        if codes is None:
            return _unordered(self.latent_dim)
        z = codes.double()
        var = z.var(0, unbiased=False)
        return LatentScores(z.mean(0), var.clamp_min(1e-12).sqrt(), var, N_("variance of the codes"),
                            N_("variance {:.3g}"))


class VAE(Autoencoder):
    generative = True
    gaussian_posterior = True
    family = "VAE"
    SETTINGS = (Setting("beta", "float", "weight of the KL term (β-VAE): 1 is the ELBO; above 1 trades sharpness "
                        "for a smoother, more disentangled latent space", lo=0, hi=1000, label="β (KL weight)",
                        slider=(0, 10, 0.1), tag="b{:g}"),)

    def __init__(self, image_shape, latent_dim: int, recon: str = "bce", beta: float = 1.0):
        super().__init__(image_shape, latent_dim, recon)
        self.beta = float(beta)

    def hparams(self) -> dict:
        return {"recon": self.recon, "beta": self.beta}

    def posterior(self, x) -> GaussianPosterior:
        """q(z | x) = N(mu, diag sigma^2), from the encoder's (mu, log sigma^2)."""
        return GaussianPosterior(*self.encode(x))

    @staticmethod
    def kl(mu, logvar):
        """KL(N(mu, exp(logvar)) || N(0, I)) in closed form, summed over latent dims."""
        return GaussianPosterior(mu, logvar).kl()

    def loss(self, x_in, x_target=None, mask=None):
        x_target = x_in if x_target is None else x_target
        q = self.posterior(self.with_mask(x_in, mask))
        z = q.sample()  # the reparameterization trick: gradients flow through mu and sigma
        recon = self.recon_loss(self.decode_logits(z), x_target).mean()
        kl = q.kl().mean()
        return {"recon": recon, "kl": kl, "loss": recon + self.beta * kl}

    @torch.no_grad()
    def sample(self, n: int, generator=None):
        z = torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        return self.decode(z)

    @torch.no_grad()
    def latent_scores(self, x: torch.Tensor | None = None, codes: torch.Tensor | None = None) -> LatentScores:
        """A VAE's units are its prior's, N(0, 1) per dim; a dim carries its mean KL(q(z_d|x) ‖ N(0, 1)) over
        the test images ``x`` (exact, from the encoder), else the variance of the posterior means ``codes``
        ("activity", which ranks the dims the same way in practice)."""
        d = self.latent_dim
        zeros, ones = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
        if x is not None and len(x):
            kl = self.posterior(x.to(self.device)).kl_per_dim()
            return LatentScores(zeros, ones, kl.double().mean(0).cpu(), N_("mean KL per dim (nats)"),
                                N_("KL {:.2f} nats"))
        if codes is not None:
            return LatentScores(zeros, ones, codes.double().var(0, unbiased=False),
                                N_("variance of the posterior means (activity)"), N_("activity {:.3g}"))
        return _unordered(d)

    @torch.no_grad()
    def iw_log_likelihood(self, x_bin: torch.Tensor, k: int = 500, seed: int = 0, batch: int = 100,
                          max_decodes: int = 5000, desc: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image importance-weighted log p(x) (nats) and the ELBO of binary images, Bernoulli likelihood.

        log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log k, z_k ~ q(z|x).
        ``desc``: show a progress bar with this label (the full test split takes minutes on a CPU).
        """
        from tqdm import tqdm

        gen = torch.Generator().manual_seed(seed)
        device = self.device
        log2pi = math.log(2 * math.pi)
        lls, elbos = [], []
        for i in tqdm(range(0, len(x_bin), batch), desc=desc, unit="batch", disable=desc is None):
            xb = x_bin[i:i + batch].to(device)
            b = len(xb)
            q = self.posterior(xb)
            mu, logvar, std = q.mu, q.logvar, q.std
            target = xb.flatten(1)
            chunk = max(1, max_decodes // b)
            logws = []
            for j in range(0, k, chunk):
                m = min(chunk, k - j)
                eps = torch.randn(m, b, mu.shape[1], generator=gen).to(device)
                z = mu + std * eps
                logits = self.decode_logits(z.reshape(m * b, -1)).reshape(m, b, -1)
                log_px = -F.binary_cross_entropy_with_logits(
                    logits, target.expand(m, -1, -1), reduction="none").sum(-1)
                log_pz = -0.5 * (z.pow(2) + log2pi).sum(-1)
                log_qz = -0.5 * (eps.pow(2) + log2pi + logvar).sum(-1)
                logws.append((log_px + log_pz - log_qz).double())
            logw = torch.cat(logws)  # (k, b)
            lls.append((torch.logsumexp(logw, 0) - math.log(k)).cpu())
            elbos.append(logw.mean(0).cpu())
        return torch.cat(lls), torch.cat(elbos)

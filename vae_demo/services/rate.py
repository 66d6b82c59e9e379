"""β and the rate–distortion plane (Alemi et al., "Fixing a Broken ELBO", 2018).

A VAE's loss is D + β·R: the *distortion* D = E_q[−log p(x | z)] (the reconstruction term) and the *rate*
R = KL(q(z | x) ‖ p(z)) (nats of information the code holds about the image). The ELBO is −(D + R), so every
line D + R = c is one ELBO; β > 1 buys a lower rate with more distortion, β < 1 the other way. As β grows, more
dims are switched off: their posterior collapses onto the prior (KL ≈ 0), and they carry nothing.

A *family* is the VAEs of one dataset and one architecture (kind, latent size, every setting but β), trained on
clean images, at two or more values of β: found from the models, by no name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae_demo.language import _
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import grid, to_uint8, upscale
from vae_demo.services.registry import ModelEntry
from vae_demo.services.testdata import TestImages

RD_IMAGES = 1000  # test images each point is measured on (the benchmark: the whole split)
ACTIVE_KL = 0.01  # a dim is active when its mean KL is above this (nats); see active_units
LOSS_SEED = 0  # the one z drawn per image for the distortion, as the benchmark's losses section
TRAVERSAL_DIMS, TRAVERSAL_STEPS = 4, 9


@dataclass
class RatePoint:
    name: str
    beta: float
    rate: float  # mean KL per image, nats
    distortion: float  # mean reconstruction term per image (nats for BCE)
    kl_per_dim: np.ndarray  # (D,) mean KL per dim
    active: int  # dims with mean KL above ACTIVE_KL
    images: int  # how many test images

    @property
    def elbo(self) -> float:
        return -(self.rate + self.distortion)


def _architecture(e: ModelEntry) -> tuple:
    h = {k: v for k, v in e.model.hparams().items() if k != "beta"}
    return e.kind, e.latent_dim, tuple(sorted((k, str(v)) for k, v in h.items()))


def beta_family(entries: list[ModelEntry]) -> list[ModelEntry]:
    """The largest family of VAEs (one architecture, clean images, not told the class) at two or more β, by β;
    [] when there is none."""
    vaes = [e for e in entries if e.has_latent_code and e.model.gaussian_posterior and e.model.trainable
            and not e.is_restorer and not e.is_conditional]
    groups: dict[tuple, dict[float, ModelEntry]] = {}
    for e in sorted(vaes, key=lambda e: (e.yours, e.name)):  # a committed model first at a β
        groups.setdefault(_architecture(e), {}).setdefault(float(e.beta), e)
    best = max(groups.values(), key=len, default={})
    return [best[b] for b in sorted(best)] if len(best) >= 2 else []


def active_units(kl_per_dim: np.ndarray) -> int:
    """Dims whose mean KL(q(z_d | x) ‖ N(0, 1)) is above ACTIVE_KL nats (a collapsed dim's is ~0)."""
    return int((np.asarray(kl_per_dim) > ACTIVE_KL).sum())


@torch.no_grad()
def measure(model, x: torch.Tensor, batch: int = RD_IMAGES, seed: int = LOSS_SEED) -> tuple[float, float, np.ndarray]:
    """(rate, distortion, KL per dim) of ``model`` on images ``x``: ``model.loss``'s own ``kl`` and ``recon``
    terms (one z per image, drawn after ``torch.manual_seed(seed)``), averaged over the images."""
    model.eval()
    kl = recon = 0.0
    per_dim = torch.zeros(model.latent_dim, dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(model.device)
            terms = model.loss(xb)
            kl += float(terms["kl"]) * len(xb)
            recon += float(terms["recon"]) * len(xb)
            per_dim += model.posterior(xb).kl_per_dim().double().sum(0).cpu()
    n = len(x)
    return kl / n, recon / n, (per_dim / n).numpy()


def point(entry: ModelEntry, images: TestImages | None) -> RatePoint:
    """``entry`` on the plane, measured on up to RD_IMAGES test images (cached on the entry)."""
    s = images.get(entry.dataset) if images is not None else None
    if s is None or not len(s):
        raise UserInputError(_("no test images of {dataset} here to measure the models on", dataset=entry.dataset))
    x = s.floats(slice(0, RD_IMAGES))
    with entry.lock:
        key = ("rate", len(x))
        if key not in entry.cache:
            r, d, per_dim = measure(entry.model, x)
            entry.cache[key] = RatePoint(entry.name, float(entry.beta), r, d, per_dim, active_units(per_dim), len(x))
        return entry.cache[key]


def picture(images: torch.Tensor, ncols: int, cell: int = 56) -> np.ndarray:
    g = grid(images, ncols)
    return upscale(to_uint8(g), max(g.shape[1:]) * max(1, cell // images.shape[-1]))


@torch.no_grad()
def reconstructions(entry: ModelEntry, images: TestImages, n: int = 8) -> np.ndarray:
    """The first ``n`` test images (top row) and their reconstructions (bottom row)."""
    x = images.get(entry.dataset).floats(slice(0, n))
    return picture(torch.cat([x, entry.model.reconstruct(x).float().cpu()]), n)


@torch.no_grad()
def prior_samples(entry: ModelEntry, n: int = 16, seed: int = 0) -> np.ndarray:
    """``n`` draws z ~ N(0, I) (the same for every model of the family), decoded."""
    return picture(entry.model.sample(n, generator=torch.Generator().manual_seed(seed)).float().cpu(), n // 2)


@torch.no_grad()
def traversal(entry: ModelEntry, p: RatePoint, dims: int = TRAVERSAL_DIMS, steps: int = TRAVERSAL_STEPS,
              span: float = 3.0) -> tuple[np.ndarray, list[int]]:
    """A row per most informative dim (most KL first): z = 0 but that dim from −span to +span; and the dims."""
    order = [int(d) for d in np.argsort(-p.kl_per_dim, kind="stable")[:dims]]
    t = torch.linspace(-span, span, steps)
    z = torch.zeros(len(order) * steps, entry.latent_dim)
    for r, d in enumerate(order):
        z[r * steps:(r + 1) * steps, d] = t
    return picture(entry.model.decode(z.to(entry.model.device)).float().cpu(), steps), order

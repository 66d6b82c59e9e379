"""PSNR and SSIM on images in [0, 1] (data range 1), as ``shared/CONVENTIONS.md`` asks.

- PSNR over a set comes from the set's mean squared error, never an average of per-image PSNRs.
- SSIM is the mean of per-image SSIM; it matches ``skimage.metrics.structural_similarity`` with
  ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1`` (colour: the mean
  over channels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_PSNR = 100.0  # identical images: report this instead of infinity


def mse(x: torch.Tensor, y: torch.Tensor) -> float:
    return float((x.double() - y.double()).pow(2).mean())


def psnr_from_mse(err: float) -> float:
    return MAX_PSNR if err <= 10 ** (-MAX_PSNR / 10) else 10.0 * math.log10(1.0 / err)


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """PSNR (dB) of a whole batch, from its mean squared error."""
    return psnr_from_mse(mse(x, y))


def _gauss_window(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    r = int(truncate * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def ssim_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """SSIM of each image pair in (N, C, H, W) batches; returns (N,). Images need H, W ≥ 11."""
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ssim needs two equal (N, C, H, W) batches, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, c, h, w = x.shape
    k = _gauss_window().to(x.device)
    if h < len(k) or w < len(k):
        raise ValueError(f"ssim needs images of at least {len(k)}×{len(k)} pixels, got {h}×{w}")
    x = x.double().reshape(n * c, 1, h, w)
    y = y.double().reshape(n * c, 1, h, w)
    kh, kw = k.view(1, 1, -1, 1), k.view(1, 1, 1, -1)

    def filt(t):
        return F.conv2d(F.conv2d(t, kh), kw)

    ux, uy = filt(x), filt(y)
    vx = filt(x * x) - ux * ux
    vy = filt(y * y) - uy * uy
    vxy = filt(x * y) - ux * uy
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).view(n, c).mean(1).float()


def ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean per-image SSIM of a batch."""
    return float(ssim_per_image(x, y).mean())

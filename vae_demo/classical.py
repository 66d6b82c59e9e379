"""Classical restorers: the non-learned baselines the benchmark and the app compare against.

Every restorer wraps a well-kept library, nothing is hand-written:

=================  ===========  ==========================  ===============================================
restorer           label        corruptions                 library call (tuned parameter)
=================  ===========  ==========================  ===============================================
gaussian_filter    blind        gaussian, saltpepper,       ``scipy.ndimage.gaussian_filter`` (σ)
                                erasure
median_filter      blind        gaussian, saltpepper,       ``scipy.ndimage.median_filter`` (size)
                                erasure
tv_chambolle       blind        gaussian                    ``skimage.restoration.denoise_tv_chambolle``
                                                            (weight)
bm3d               blind        gaussian                    ``bm3d.bm3d`` / ``bm3d.bm3d_rgb``
                                                            (sigma_psd = factor × noise σ)
unsharp_mask       blind        blur, lowres                ``skimage.filters.unsharp_mask``
                                                            (radius, amount)
richardson_lucy    blind        blur                        ``skimage.restoration.richardson_lucy`` with the
                                                            known Gaussian PSF (iterations)
wiener             blind        blur                        ``skimage.restoration.wiener`` with the known
                                                            Gaussian PSF (balance)
interpolation      blind        lowres                      average-pool by the known factor, then
                                                            ``torch`` bilinear / bicubic or ``cv2``
                                                            Lanczos-4 upsampling (method)
inpaint_telea      mask-aware   erasure, block, saltpepper  ``cv2.inpaint(..., INPAINT_TELEA)`` (radius)
inpaint_ns         mask-aware   erasure, block, saltpepper  ``cv2.inpaint(..., INPAINT_NS)`` (radius)
=================  ===========  ==========================  ===============================================

"blind" and "mask-aware" follow ``shared/CONVENTIONS.md``: a mask-aware restorer is given the
corruption mask. Every classical restorer is tuned for one corruption level, so each one "knows"
the kind and severity of the corruption; the deconvolution restorers and ``interpolation`` also
use the blur σ or the downscale factor of the spec directly (see ``Restorer.knows``).

Inputs and outputs are float tensors (N, C, H, W) in [0, 1]; ``mask`` is (N, 1, H, W), 1 where a
pixel was destroyed, or ``None`` (see :func:`vae_demo.corruptions.corrupt`).

Tuning (:func:`tune`, :func:`tune_spec`) picks the parameter that maximises PSNR (from the MSE of
the whole set) on held-out *training* images, never on the test split. The benchmark stores the
results in ``classical_params.json`` next to this file; :func:`restore_classical` (used live by the
app on one image) reads it and falls back to built-in defaults when it is absent.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vae_demo.corruptions import BLUR_VARIANTS, Corruption, blur_radius, corrupt, gaussian_kernels, parse_spec
from vae_demo.files import atomic_write
from vae_demo.metrics import psnr_from_mse

PARAMS_PATH = Path(__file__).resolve().with_name("classical_params.json")
PARAMS_VERSION = 1
TUNE_SEED = 777  # corruption seed of the held-out tuning images (the test split uses other seeds)
PARALLEL_MIN_IMAGES = 256  # below this, a worker pool costs more than it saves
APP_LATENCY_MS = 50.0  # restore_classical skips candidates slower than this on one image


@dataclass(frozen=True)
class Restorer:
    name: str
    label: str  # "blind" or "mask-aware"
    kinds: tuple[str, ...]  # corruption kinds it applies to
    param: str  # what is tuned, in words
    fn: Callable  # fn(y: ndarray (N,C,H,W) float32, mask: ndarray|None, spec: Corruption, **params)
    grid: Callable[[Corruption], list[dict]]  # candidate parameters for one corruption level
    default: Callable[[Corruption], dict]  # used when no tuned value is known
    knows: str = ""  # what it is told about the corruption besides the mask
    per_image: bool = False  # slow per-image library call: may be spread over worker processes
    library: str = ""

    @property
    def needs_mask(self) -> bool:
        return self.label == "mask-aware"

    def describe(self, params: dict) -> str:
        if not params:
            return self.name
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())
        return f"{self.name} ({shown})"


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# --- the library calls ---------------------------------------------------------------------------

def _gaussian_filter(y, mask, spec, sigma):
    from scipy import ndimage

    return ndimage.gaussian_filter(y, sigma=(0, 0, sigma, sigma), mode="reflect")


def _median_filter(y, mask, spec, size):
    from scipy import ndimage

    return ndimage.median_filter(y, size=(1, 1, int(size), int(size)), mode="reflect")


def _tv_chambolle(y, mask, spec, weight):
    from skimage.restoration import denoise_tv_chambolle

    out = np.empty_like(y)
    for i in range(len(y)):  # one call per image: a batch axis would be smoothed across images
        if y.shape[1] == 1:
            out[i, 0] = denoise_tv_chambolle(y[i, 0], weight=weight)
        else:
            out[i] = denoise_tv_chambolle(y[i], weight=weight, channel_axis=0)
    return out


BM3D_NF_ENV = "VAE_DEMO_BM3D_NF"
BM3D_GAP_NOTE = (
    "BM3D runs in its white-noise mode (profile nf = 0, ~10 ms per 28×28 image, ~30 ms per 32×32 RGB "
    "image). The library's default profile (nf = 32) is ~35× slower (~0.3 s / ~1 s per image) and, "
    "each tuned on held-out training images, was 0.15-0.25 dB better (MNIST σ 0.3 / 0.5: +0.24 / "
    "+0.16 dB on 60 images; CIFAR-10: +0.22 / +0.15 dB on 40). `--bm3d-nf 32` uses it (hours).")


def bm3d_nf() -> int:
    """BM3D's ``nf`` (0: white-noise mode, the default here; 32: the library's default profile)."""
    return int(os.environ.get(BM3D_NF_ENV) or 0)


@functools.lru_cache(maxsize=4)
def _bm3d_profile(nf: int):
    import bm3d

    profile = bm3d.BM3DProfile()
    # nf = 0: BM3D's conventional white-noise mode. The default (nf = 32) also prepares exact
    # transform-domain variances for correlated noise: a fixed ~0.3 s per call that dominates on
    # 28×28 images, for 0.15-0.25 dB here (see BM3D_GAP_NOTE).
    profile.nf = nf
    profile.num_threads = 1  # deterministic; parallelism comes from worker processes instead
    return profile


def _bm3d(y, mask, spec, sigma_factor):
    import bm3d

    sigma_psd = max(float(sigma_factor) * spec.severity, 1e-4)
    profile = _bm3d_profile(bm3d_nf())
    out = np.empty_like(y)
    for i in range(len(y)):
        if y.shape[1] == 1:
            out[i, 0] = bm3d.bm3d(y[i, 0], sigma_psd, profile=profile)
        else:
            out[i] = bm3d.bm3d_rgb(y[i].transpose(1, 2, 0), sigma_psd, profile=profile).transpose(2, 0, 1)
    return out


def _unsharp_mask(y, mask, spec, radius, amount):
    from skimage.filters import unsharp_mask

    # radius 0 along the batch and channel axes: each image and channel is sharpened on its own
    return unsharp_mask(y, radius=(0, 0, radius, radius), amount=amount).astype(np.float32)


def blur_psf(spec: Corruption, h: int, w: int) -> np.ndarray:
    """The 2-D Gaussian PSF that ``blur:σ`` applied (same kernel and radius as the corruption; a library's
    variant, ``blur:σ:scipy`` ..., its own radius: the deconvolutions know the kernel that was applied)."""
    radius = blur_radius(spec.severity, spec.variant if spec.variant in BLUR_VARIANTS else "")
    radius = max(0, min(radius, h - 1, w - 1))
    k = gaussian_kernels(torch.tensor([float(spec.severity)]), radius)[0].numpy().astype(np.float64)
    return np.outer(k, k)


def _pad_reflect(y, p):
    """Mirror-pad by ``p`` (the corruption's own boundary rule). The deconvolutions pad by twice the
    PSF radius: boundary errors creep inward by one radius per iteration, and on CIFAR-10 a pad of
    one radius costs Richardson-Lucy 2-5 dB after 40-160 iterations."""
    return np.pad(y, ((0, 0), (0, 0), (p, p), (p, p)), mode="reflect") if p else y


def _richardson_lucy(y, mask, spec, num_iter):
    from skimage.restoration import richardson_lucy

    psf = blur_psf(spec, *y.shape[2:])
    p = 2 * (psf.shape[0] // 2)
    if p == 0:
        return y.copy()
    out = np.empty_like(y)
    for i in range(0, len(y), 500):  # one 4-D call per chunk; the PSF is flat along batch/channel
        chunk = _pad_reflect(y[i:i + 500].astype(np.float32), p)  # float32 FFTs: ~2× faster
        res = richardson_lucy(chunk, psf[None, None].astype(np.float32), num_iter=int(num_iter), clip=True)
        out[i:i + 500] = res[:, :, p:-p, p:-p]
    return out


def _wiener(y, mask, spec, balance):
    from skimage.restoration import wiener

    psf = blur_psf(spec, *y.shape[2:])
    p = 2 * (psf.shape[0] // 2)
    if p == 0:
        return y.copy()
    padded = _pad_reflect(y.astype(np.float64), p)  # wiener is circular: pad, then crop
    out = np.empty_like(y)
    for i in range(len(y)):
        for c in range(y.shape[1]):
            out[i, c] = wiener(padded[i, c], psf, balance=balance, clip=False)[p:-p, p:-p]
    return out


def _interpolation(y, mask, spec, method):
    f = int(round(spec.severity))
    n, c, h, w = y.shape
    if f <= 1:
        return y.copy()
    small = F.avg_pool2d(torch.from_numpy(np.ascontiguousarray(y)), f, ceil_mode=True)
    if method in ("bilinear", "bicubic"):
        return F.interpolate(small, size=(h, w), mode=method, align_corners=False).numpy()
    if method == "lanczos4":
        import cv2

        s = small.numpy()
        out = np.empty_like(y)
        for i in range(n):
            for ch in range(c):
                out[i, ch] = cv2.resize(s[i, ch], (w, h), interpolation=cv2.INTER_LANCZOS4)
        return out
    raise ValueError(f"unknown interpolation method {method!r}")


def _inpaint(flag_name):
    def fn(y, mask, spec, radius):
        import cv2

        if mask is None:
            raise ValueError("inpainting needs the corruption mask")
        flag = getattr(cv2, flag_name)
        m8 = (mask[:, 0] > 0.5).astype(np.uint8)
        out = np.empty_like(y)
        for i in range(len(y)):
            if not m8[i].any():
                out[i] = y[i]
                continue
            for c in range(y.shape[1]):
                # float32, one channel at a time (no 8-bit rounding), on a 0..255 scale: OpenCV's
                # Telea float path assumes that scale and returns garbage for values in [0, 1]
                src = np.ascontiguousarray(y[i, c] * 255.0, dtype=np.float32)
                out[i, c] = cv2.inpaint(src, m8[i], float(radius), flag) / 255.0
        return out

    return fn


def _identity(y, mask, spec):
    return y.copy()


# --- the catalogue -------------------------------------------------------------------------------

def _const(**params):
    return lambda spec: dict(params)


def _choices(name, values):
    return lambda spec: [{name: v} for v in values]


RESTORERS: dict[str, Restorer] = {
    r.name: r
    for r in (
        Restorer("gaussian_filter", "blind", ("gaussian", "saltpepper", "erasure"), "filter σ (pixels)",
                 _gaussian_filter, _choices("sigma", [0.5, 0.75, 1.0, 1.5, 2.0]), _const(sigma=1.0),
                 library="scipy.ndimage.gaussian_filter"),
        Restorer("median_filter", "blind", ("gaussian", "saltpepper", "erasure"), "window size",
                 _median_filter, _choices("size", [3, 5]), _const(size=3),
                 library="scipy.ndimage.median_filter"),
        Restorer("tv_chambolle", "blind", ("gaussian",), "TV weight", _tv_chambolle,
                 _choices("weight", [0.05, 0.1, 0.2, 0.3, 0.5, 0.8]), _const(weight=0.2), per_image=True,
                 library="skimage.restoration.denoise_tv_chambolle"),
        Restorer("bm3d", "blind", ("gaussian",), "sigma_psd as a multiple of the noise σ", _bm3d,
                 _choices("sigma_factor", [0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.25]), _const(sigma_factor=0.8),
                 knows="noise σ", per_image=True, library="bm3d.bm3d / bm3d.bm3d_rgb"),
        Restorer("unsharp_mask", "blind", ("blur", "lowres"), "radius and amount", _unsharp_mask,
                 lambda spec: [{"radius": r, "amount": a} for r in (0.5, 1.0, 2.0, 3.0)
                               for a in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)],
                 _const(radius=1.0, amount=1.0), library="skimage.filters.unsharp_mask"),
        # iterations capped at 320: on MNIST blur:2 640 is worse, on blur:4 only +0.03 dB, at twice the cost
        Restorer("richardson_lucy", "blind", ("blur",), "iterations", _richardson_lucy,
                 _choices("num_iter", [10, 20, 40, 80, 160, 320]), _const(num_iter=80), knows="blur PSF",
                 per_image=True,
                 library="skimage.restoration.richardson_lucy"),
        Restorer("wiener", "blind", ("blur",), "balance", _wiener,
                 _choices("balance", [3e-5, 1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1]), _const(balance=0.001),
                 knows="blur PSF", library="skimage.restoration.wiener"),
        Restorer("interpolation", "blind", ("lowres",), "method", _interpolation,
                 _choices("method", ["bilinear", "bicubic", "lanczos4"]), _const(method="bicubic"),
                 knows="downscale factor", library="torch.nn.functional.interpolate / cv2.resize"),
        Restorer("inpaint_telea", "mask-aware", ("erasure", "block", "saltpepper"), "inpaint radius",
                 _inpaint("INPAINT_TELEA"), _choices("radius", [1, 2, 3, 5, 8, 12]), _const(radius=3),
                 knows="mask", library="cv2.inpaint (Telea)"),
        Restorer("inpaint_ns", "mask-aware", ("erasure", "block", "saltpepper"), "inpaint radius",
                 _inpaint("INPAINT_NS"), _choices("radius", [1, 2, 3, 5, 8, 12]), _const(radius=3),
                 knows="mask", library="cv2.inpaint (Navier-Stokes)"),
    )
}
IDENTITY = Restorer("no restoration", "blind", (), "—", _identity, lambda spec: [{}], lambda spec: {})

# The restorer per kind when no tuned value is known (the best fast one when tuned on MNIST).
DEFAULT_BEST = {
    "gaussian": "bm3d",
    "erasure": "inpaint_telea",
    "blur": "wiener",
    "block": "inpaint_telea",
    "saltpepper": "inpaint_ns",
    "lowres": "interpolation",
}


def get_restorer(name: str | Restorer) -> Restorer:
    if isinstance(name, Restorer):
        return name
    if name == IDENTITY.name:
        return IDENTITY
    try:
        return RESTORERS[name]
    except KeyError:
        raise ValueError(f"unknown classical restorer {name!r}; choose one of {', '.join(RESTORERS)}") from None


def restorers_for(kind: str, with_mask: bool = True) -> list[Restorer]:
    """The restorers that apply to corruption ``kind`` (mask-aware ones only if a mask exists)."""
    return [r for r in RESTORERS.values() if kind in r.kinds and (with_mask or not r.needs_mask)]


# --- applying ------------------------------------------------------------------------------------

def _run_chunk(args):
    name, y, mask, spec, params = args
    return get_restorer(name).fn(y, mask, spec, **params)


def _init_worker():
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass
    torch.set_num_threads(1)


_POOLS: dict = {}


def _pool(workers: int):
    """A worker pool kept for the life of the process (starting one costs ~1-2 s)."""
    if workers not in _POOLS:
        import atexit
        import multiprocessing as mp

        # spawn, not fork: the parent holds torch's thread pools, which do not survive a fork
        pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker)
        _POOLS[workers] = pool
        atexit.register(close_pools)
    return _POOLS[workers]


def close_pools() -> None:
    """Stop the worker processes started by :func:`apply` with ``workers > 1``."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.close()
        pool.join()


def _apply_np(restorer: Restorer, y: np.ndarray, mask: np.ndarray | None, spec: Corruption,
              params: dict, workers: int = 1, progress: bool = False) -> np.ndarray:
    n = len(y)
    if restorer.per_image and workers > 1 and n >= PARALLEL_MIN_IMAGES:
        size = max(16, min(256, math.ceil(n / (4 * workers))))
        jobs = [(restorer.name, y[i:i + size], None if mask is None else mask[i:i + size], spec, params)
                for i in range(0, n, size)]
        it = _pool(workers).imap(_run_chunk, jobs)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=len(jobs), desc=restorer.name, leave=False, unit="chunk")
        out = np.concatenate(list(it))
    else:
        out = restorer.fn(y, mask, spec, **params)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def apply(restorer: str | Restorer, corrupted: torch.Tensor, mask: torch.Tensor | None, spec,
          params: dict | None = None, workers: int = 1, progress: bool = False) -> torch.Tensor:
    """Restore a batch (N, C, H, W) in [0, 1] with one restorer; returns a tensor like ``corrupted``."""
    r = get_restorer(restorer)
    spec = parse_spec(spec)
    if corrupted.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(corrupted.shape)}")
    if r.needs_mask and mask is None:
        raise ValueError(f"{r.name} is mask-aware: it needs the corruption mask")
    params = r.default(spec) if params is None else params
    y = corrupted.detach().to("cpu", torch.float32).numpy()
    m = None if mask is None else mask.detach().to("cpu", torch.float32).numpy()
    out = _apply_np(r, np.ascontiguousarray(y), m, spec, params, workers, progress)
    return torch.from_numpy(out).to(corrupted.device, corrupted.dtype)


# --- tuning --------------------------------------------------------------------------------------

@dataclass
class TuneResult:
    restorer: str
    label: str
    params: dict
    psnr: float  # held-out PSNR (dB) at the chosen parameter
    table: list[dict] = field(default_factory=list)  # every candidate: {"params", "psnr", "latency_ms"}
    images: int = 0

    def to_json(self, full: bool = True) -> dict:
        """Everything (``full``), or for ``classical_params.json``: the chosen parameter and, if it
        is too slow for the app, the best one within :data:`APP_LATENCY_MS` (``fast``)."""
        rows = [{"params": t["params"], "psnr": round(t["psnr"], 4), "latency_ms": round(t["latency_ms"], 2)}
                for t in self.table]
        chosen = next((t for t in rows if t["params"] == self.params), None)
        out = {"label": self.label, "params": self.params, "psnr": round(self.psnr, 4),
               "latency_ms": chosen["latency_ms"] if chosen else None, "images": self.images}
        if full:
            out["table"] = rows
        elif chosen is not None and chosen["latency_ms"] > APP_LATENCY_MS:
            fast = [t for t in rows if t["latency_ms"] <= APP_LATENCY_MS]
            out["fast"] = max(fast, key=lambda t: t["psnr"]) if fast else None
        return out


def _latency_ms(r: Restorer, corrupted, mask, spec, params, repeats: int = 3) -> float:
    """Median wall time of restoring ONE image (what the app does live), in ms."""
    one = corrupted[:1]
    m = None if mask is None else mask[:1]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        apply(r, one, m, spec, params)
        times.append(1000 * (time.perf_counter() - t0))
        if times[-1] > 10 * APP_LATENCY_MS:  # far too slow for the app either way: once is enough
            break
    return float(np.median(times))


def _tune_on(r: Restorer, clean: torch.Tensor, corrupted: torch.Tensor, mask, spec: Corruption,
             workers: int = 1) -> TuneResult:
    table = []
    grid = r.grid(spec)
    _latency_ms(r, corrupted, mask, spec, grid[0])  # warm-up: imports, caches
    for params in grid:
        out = apply(r, corrupted, mask, spec, params, workers)
        err = float((out.double() - clean.double()).pow(2).mean())
        table.append({"params": params, "psnr": psnr_from_mse(err),
                      "latency_ms": _latency_ms(r, corrupted, mask, spec, params)})
    best = max(table, key=lambda t: t["psnr"])  # first of equals: grids are ordered mild → strong
    return TuneResult(r.name, r.label, dict(best["params"]), best["psnr"], table, len(clean))


def tune(restorer: str | Restorer, corruption_spec, clean_heldout_images: torch.Tensor,
         seed: int = TUNE_SEED, workers: int = 1) -> TuneResult:
    """Pick the parameter of ``restorer`` with the best PSNR on held-out clean images.

    The images are corrupted with ``corruption_spec`` and ``seed``; pass a slice of the
    TRAINING split (never the test split).
    """
    r = get_restorer(restorer)
    spec = parse_spec(corruption_spec)
    clean = clean_heldout_images.detach().to("cpu", torch.float32)
    corrupted, mask = corrupt(clean, spec, seed)
    return _tune_on(r, clean, corrupted, mask, spec, workers)


def tune_spec(corruption_spec, clean_heldout_images: torch.Tensor, seed: int = TUNE_SEED,
              workers: int = 1, progress: bool = False, names=None) -> dict[str, TuneResult]:
    """Tune every restorer that applies to this corruption (or those in ``names``) on the same
    corrupted images."""
    spec = parse_spec(corruption_spec)
    clean = clean_heldout_images.detach().to("cpu", torch.float32)
    corrupted, mask = corrupt(clean, spec, seed)
    rs = [r for r in restorers_for(spec.kind, with_mask=mask is not None) if names is None or r.name in names]
    if progress:
        from tqdm import tqdm

        rs = tqdm(rs, desc=f"tune {spec}", leave=False, unit="restorer")
    return {r.name: _tune_on(r, clean, corrupted, mask, spec, workers) for r in rs}


def best_of(results: dict[str, TuneResult], with_mask: bool = True) -> TuneResult | None:
    cands = [t for t in results.values() if with_mask or t.label != "mask-aware"]
    return max(cands, key=lambda t: t.psnr) if cands else None


# --- tuned parameters on disk --------------------------------------------------------------------

def params_entry(spec, results: dict[str, TuneResult], full: bool = False) -> dict:
    """One corruption's tuning results: compact for ``classical_params.json``, or ``full`` (every
    candidate) for the benchmark report."""
    best = best_of(results)
    best_blind = best_of(results, with_mask=False)
    entry = {
        "spec": str(parse_spec(spec)),
        "best": best.restorer if best else None,
        "best_blind": best_blind.restorer if best_blind else None,
        "restorers": {name: t.to_json(full) for name, t in results.items()},
    }
    app = _pick_candidate(entry, True, APP_LATENCY_MS)  # what restore_classical will use
    entry["app"] = {"restorer": app[0].name, "params": app[1], "psnr": round(app[2], 4)} if app else None
    return entry


def write_params(path: str | os.PathLike, datasets: dict[str, dict], meta: dict) -> Path:
    """Write (merging with what is there) ``{"datasets": {ds: {spec: entry}}}`` as JSON."""
    path = Path(path)
    data = _read_params_file(path) or {}
    data["version"] = PARAMS_VERSION
    data.update(meta)
    merged = data.setdefault("datasets", {})
    for ds, entries in datasets.items():
        merged.setdefault(ds, {}).update(entries)
    atomic_write((path, json.dumps(data, indent=1, sort_keys=False) + "\n"))
    load_params.cache_clear()
    return path


def _read_params_file(path: Path) -> dict | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("datasets"), dict) else None


@functools.lru_cache(maxsize=8)
def _load_params_cached(path: str, mtime: float) -> dict:
    return _read_params_file(Path(path)) or {"datasets": {}}


def load_params(path: str | os.PathLike | None = None) -> dict:
    """The tuned parameters (``{"datasets": {...}}``); empty when the file is absent or unreadable."""
    p = Path(path) if path else PARAMS_PATH
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return {"datasets": {}}
    return _load_params_cached(str(p), mtime)


load_params.cache_clear = _load_params_cached.cache_clear  # type: ignore[attr-defined]


def _guess_dataset(image_shape) -> str:
    return "cifar10" if image_shape[0] == 3 else "mnist"


def _nearest_entry(entries: dict, spec: Corruption) -> dict | None:
    same = []
    for key, entry in entries.items():
        try:
            c = parse_spec(key)
        except ValueError:
            continue
        if c.kind == spec.kind:
            dist = abs(math.log((c.severity + 1e-3) / (spec.severity + 1e-3)))
            same.append((dist, c.severity, entry))
    return min(same, key=lambda t: (t[0], t[1]))[2] if same else None


def _pick_candidate(entry: dict, with_mask: bool, max_latency_ms: float | None):
    """(restorer, params, held-out PSNR) of the best candidate in a params entry, or None."""
    cands = []
    for name, res in entry.get("restorers", {}).items():
        r = RESTORERS.get(name)
        if r is None or (r.needs_mask and not with_mask):
            continue
        rows = res.get("table") or [res, *([res["fast"]] if res.get("fast") else [])]
        for t in rows:
            lat = t.get("latency_ms")
            if not isinstance(t.get("params"), dict) or t.get("psnr") is None:
                continue
            if max_latency_ms is not None and lat is not None and lat > max_latency_ms:
                continue
            cands.append((r, dict(t["params"]), float(t["psnr"])))
    return max(cands, key=lambda c: c[2]) if cands else None


def best_classical(kind_or_spec, dataset: str | None = None, with_mask: bool = True,
                   params_path=None, max_latency_ms: float | None = None) -> tuple[Restorer, dict]:
    """The restorer (and its parameters) to use for a corruption.

    ``kind_or_spec`` is a kind (``"gaussian"``) or a spec (``"gaussian:0.4"``). Tuned values come
    from ``classical_params.json``: of the dataset's nearest tuned severity of that kind, the
    (restorer, parameter) candidate with the best held-out PSNR, among those whose measured
    one-image latency is at most ``max_latency_ms`` (if given). Without tuned values,
    :data:`DEFAULT_BEST` with built-in defaults. ``with_mask=False`` picks a blind restorer.
    """
    text = str(kind_or_spec)
    spec = parse_spec(text if ":" in text or text in ("none", "mix") else f"{text}:{_typical(text)}")
    if spec.kind in ("none", "mix"):
        return IDENTITY, {}
    entries = load_params(params_path).get("datasets", {}).get(dataset or "", {})
    entry = _nearest_entry(entries, spec) if entries else None
    if entry is not None:
        picked = _pick_candidate(entry, with_mask, max_latency_ms)
        if picked is not None:
            return picked[0], picked[1]
    name = DEFAULT_BEST[spec.kind]
    r = RESTORERS[name]
    if r.needs_mask and not with_mask:
        blind = restorers_for(spec.kind, with_mask=False)
        if not blind:
            return IDENTITY, {}
        r = next((b for b in blind if b.name == "median_filter"), blind[0])
    return r, r.default(spec)


def _typical(kind: str) -> float:
    from vae_demo.corruptions import MIX_RANGES

    lo, hi = MIX_RANGES.get(kind, (0.0, 0.0))
    return round((lo + hi) / 2, 2)


def warm_up() -> float:
    """Import every library and run each restorer once on a tiny image, so that the app's first
    click does not pay ~1 s of imports. Returns the seconds it took."""
    t0 = time.perf_counter()
    for c in (1, 3):
        x = torch.full((1, c, 16, 16), 0.5)
        for r in RESTORERS.values():
            spec = parse_spec(f"{r.kinds[0]}:2" if r.kinds[0] in ("blur", "block", "lowres") else f"{r.kinds[0]}:0.2")
            y, mask = corrupt(x, spec, 0)
            if r.needs_mask and mask is None:
                continue
            apply(r, y, mask, spec)
    return time.perf_counter() - t0


def restore_classical(x, corrupted: torch.Tensor, mask: torch.Tensor | None, spec,
                      dataset: str | None = None, params_path=None) -> tuple[str, str, torch.Tensor]:
    """Restore with the best classical restorer for this corruption: ``(name, label, restored)``.

    Fast enough for the app (one 28×28 or 32×32 image in well under 100 ms). ``x`` (the clean
    image) is accepted for a uniform signature and never used. ``corrupted`` may be (C, H, W) or
    (N, C, H, W); the result has the same shape. ``dataset`` picks the tuned values (default: guessed
    from the image shape, 3 channels → cifar10, else mnist). If the best restorer is mask-aware but
    no mask is given, the best blind one is used. Candidates that took more than
    :data:`APP_LATENCY_MS` on one image when tuned (e.g. Richardson-Lucy with hundreds of
    iterations) are skipped, so the app may show a slightly weaker restorer than the benchmark.
    """
    single = corrupted.ndim == 3
    batch = corrupted.unsqueeze(0) if single else corrupted
    m = None if mask is None else (mask.unsqueeze(0) if mask.ndim == 3 else mask)
    spec = parse_spec(spec)
    ds = dataset or _guess_dataset(tuple(batch.shape[1:]))
    r, params = best_classical(spec, ds, with_mask=m is not None, params_path=params_path,
                               max_latency_ms=APP_LATENCY_MS)
    out = apply(r, batch, m, spec, params)
    return r.describe(params), r.label, out[0] if single else out

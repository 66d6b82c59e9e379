"""Corruptions: one implementation shared by training, the benchmark and the app.

A corruption is named by a spec string ``kind:severity``:

==============  =====================================================  ==========
spec            what it does                                           mask
==============  =====================================================  ==========
gaussian:σ      add N(0, σ²) noise to every value                       —
erasure:p       each pixel set to 0 with probability p                  erased
blur:σ          Gaussian blur, σ in pixels (kernel radius ⌈3σ⌉, mirrored     —
                border); ``blur:σ:variant`` as another library blurs:
                scipy, opencv, skimage (BLUR_VARIANTS), or family: per
                image a random radius and border (training)
block:s         one s×s square, uniformly placed, set to 0              the square
saltpepper:p    each pixel set to 0 or 1 (half each) with probability p  hit pixels
lowres:f        average-pool by f, then upsample back (nearest)         —
none            leave the image alone                                   —
mix             per image, a random kind and severity (blind training)  per kind
a,b,...         per image, one of the listed specs, e.g.                per kind
                ``erasure:0.9,block:16`` (training a specialist)
==============  =====================================================  ==========

Inputs are float batches (N, C, H, W) in [0, 1] on any device; the output is clamped to [0, 1].
All randomness is drawn on the CPU from a seeded generator, so a seed gives the same corruption on
every device. ``mask`` is a (N, 1, H, W) float tensor, 1 where a pixel was destroyed, or ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vae_demo.language import N_, _

KINDS = ("gaussian", "erasure", "blur", "block", "saltpepper", "lowres")

# What each severity means and its allowed range (checked when a spec is parsed).
SEVERITY = {
    "gaussian": ("noise σ", 0.0, 2.0),
    "erasure": ("erased fraction p", 0.0, 1.0),
    "blur": ("blur σ (pixels)", 0.0, 10.0),
    "block": ("square side s (pixels)", 0.0, 32.0),
    "saltpepper": ("hit fraction p", 0.0, 1.0),
    "lowres": ("downscale factor f", 1.0, 8.0),
}

# Severity ranges that `mix` draws from, uniformly (block and lowres are rounded to integers).
MIX_RANGES = {
    "gaussian": (0.05, 0.7),
    "erasure": (0.1, 0.95),
    "blur": (0.5, 4.5),
    "block": (4, 18),
    "saltpepper": (0.02, 0.35),
    "lowres": (2, 4),
}
MIX_CLEAN_FRACTION = 0.05  # a blind restorer should also leave clean images alone


# Gaussian blur as libraries implement it: the kernel's radius (from σ) and how the border is extended
# ("reflect": d c b | a b c, OpenCV's default and this project's; "symmetric": c b a | a b c, SciPy's "reflect";
# "replicate": a a a | a b c). The kernel is the same normalised exp(−t²/2σ²) in all of them.
BLUR_VARIANTS = {
    "": (lambda s: math.ceil(3 * s), "reflect"),  # this project's (blur:σ)
    "scipy": (lambda s: int(4 * s + 0.5), "symmetric"),  # scipy.ndimage.gaussian_filter (truncate=4, mode reflect)
    "opencv": (lambda s: (round(8 * s + 1) | 1) // 2, "reflect"),  # cv2.GaussianBlur on float images, ksize 0
    "skimage": (lambda s: int(4 * s + 0.5), "replicate"),  # skimage.filters.gaussian (truncate 4, mode nearest)
}
BLUR_FAMILY = ((2.5, 4.5), ("reflect", "symmetric", "replicate"))  # blur:σ:family: radius/σ range, borders
BLUR_NAMES = {"": N_("this project's"), "scipy": N_("SciPy's"), "opencv": N_("OpenCV's"),
              "skimage": N_("scikit-image's"), "family": N_("a random library's")}


@dataclass(frozen=True)
class Corruption:
    kind: str  # one of KINDS, "none", "mix" or "oneof" (a list of specs)
    severity: float = 0.0
    options: tuple[Corruption, ...] = ()  # "oneof": the specs each image draws one of
    variant: str = ""  # blur: another library's kernel and border (BLUR_VARIANTS) or "family"

    def __str__(self) -> str:
        if self.kind in ("none", "mix"):
            return self.kind
        if self.kind == "oneof":
            return ",".join(str(o) for o in self.options)
        return f"{self.kind}:{self.severity:g}" + (f":{self.variant}" if self.variant else "")


def parse_spec(spec: str | Corruption | None) -> Corruption:
    """``"gaussian:0.5"`` → Corruption("gaussian", 0.5). Raises ValueError with a clear message."""
    if isinstance(spec, Corruption):
        return spec
    if spec is None or str(spec).strip().lower() in ("", "none", "clean"):
        return Corruption("none")
    text = str(spec).strip().lower()
    if text == "mix":
        return Corruption("mix")
    if "," in text:
        return _parse_list(text)
    kind, sep, value = text.partition(":")
    value, _sep, variant = value.partition(":")
    if kind not in KINDS:
        raise ValueError(
            f"unknown corruption {kind!r} in {spec!r}; use one of "
            + ", ".join(f"{k}:<{SEVERITY[k][0]}>" for k in KINDS) + ", mix or none"
        )
    if not sep:
        raise ValueError(f"corruption {spec!r} needs a severity, e.g. {kind}:{MIX_RANGES[kind][1]}")
    try:
        severity = float(value)
    except ValueError:
        raise ValueError(f"severity in {spec!r} is not a number") from None
    what, lo, hi = SEVERITY[kind]
    if not (lo <= severity <= hi):  # also rejects NaN
        raise ValueError(f"{kind} severity ({what}) must be in [{lo:g}, {hi:g}], got {value}")
    if kind in ("block", "lowres"):
        severity = float(round(severity))
    if variant and (kind != "blur" or variant not in (*BLUR_VARIANTS, "family")):
        raise ValueError(f"{spec!r}: only blur takes a variant, one of "
                         + ", ".join(v for v in (*BLUR_VARIANTS, "family") if v))
    return Corruption(kind, severity, variant=variant)


def _parse_list(text: str) -> Corruption:
    """``"erasure:0.9, block:16"`` → Corruption("oneof", options=(erasure:0.9, block:16))."""
    options: list[Corruption] = []
    for part in text.split(","):
        if not part.strip():
            raise ValueError(f"empty entry in corruption list {text!r}")
        c = parse_spec(part)
        if c.kind not in KINDS:
            raise ValueError(f"a corruption list takes kind:severity entries only, got {part.strip()!r}")
        if c not in options:
            options.append(c)
    return options[0] if len(options) == 1 else Corruption("oneof", options=tuple(options))


def corrupt(
    x: torch.Tensor, spec: str | Corruption | None, seed: int | torch.Generator = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Corrupt a batch ``x`` (N, C, H, W) in [0, 1]. Returns ``(corrupted, mask)``."""
    c = parse_spec(spec)
    if x.ndim != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    if c.kind == "none":
        return x.clone(), None
    if c.kind == "mix":
        return _mix(x, gen)
    if c.kind == "oneof":
        return _oneof(x, c.options, gen)
    sev = torch.full((n,), c.severity)
    return _apply(c.kind, x, sev, gen, c.variant)


def _apply(kind: str, x: torch.Tensor, sev: torch.Tensor, gen: torch.Generator, variant: str = ""):
    """Apply ``kind`` with a per-image severity ``sev`` (N,) (a CPU tensor); a blur ``variant``."""
    if kind == "blur":
        y, mask = _blur(x, sev, gen, variant)
    else:
        y, mask = _KIND_FNS[kind](x, sev, gen)
    return y.clamp_(0.0, 1.0), mask


def _rand(shape, gen, device):
    return torch.rand(shape, generator=gen).to(device)


def _per_image(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.device, x.dtype).view(-1, 1, 1, 1)


def _gaussian(x, sigma, gen):
    noise = torch.randn(x.shape, generator=gen).to(x.device, x.dtype)
    return x + noise * _per_image(sigma, x), None


def _erasure(x, p, gen):
    n, _c, h, w = x.shape
    mask = (_rand((n, 1, h, w), gen, x.device) < _per_image(p, x)).to(x.dtype)
    return x * (1 - mask), mask


def _saltpepper(x, p, gen):
    n, _c, h, w = x.shape
    hit = (_rand((n, 1, h, w), gen, x.device) < _per_image(p, x)).to(x.dtype)
    salt = (_rand((n, 1, h, w), gen, x.device) < 0.5).to(x.dtype)
    return x * (1 - hit) + hit * salt, hit


def _block(x, s, gen):
    n, _c, h, w = x.shape
    s = s.round().long().clamp(0, min(h, w))
    # top-left corner uniform over the positions that keep the square inside the image
    top = (torch.rand(n, generator=gen) * (h - s + 1).float()).long()
    left = (torch.rand(n, generator=gen) * (w - s + 1).float()).long()
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (
        (rows >= top.view(-1, 1, 1)) & (rows < (top + s).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1)) & (cols < (left + s).view(-1, 1, 1))
    )
    mask = inside.unsqueeze(1).to(x.device, x.dtype)
    return x * (1 - mask), mask


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """1-D normalised Gaussian kernels, one row per σ (σ = 0 gives the identity)."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    s = sigma.float().clamp_min(1e-6).view(-1, 1)
    k = torch.exp(-0.5 * (t / s) ** 2)
    return k / k.sum(dim=1, keepdim=True)


def blur_radius(sigma: float, variant: str = "") -> int:
    """The kernel radius a blur variant uses for ``sigma`` (0: no blur)."""
    return int(BLUR_VARIANTS[variant][0](float(sigma))) if sigma > 0 else 0


def border_index(n: int, r: int, mode: str) -> torch.Tensor:
    """Indices into a length-``n`` axis of that axis extended by ``r`` on each side with ``mode``."""
    i = torch.arange(-r, n + r)
    if mode == "replicate" or n == 1:
        return i.clamp(0, n - 1)
    if mode == "symmetric":  # c b a | a b c: period 2n
        i = i % (2 * n)
        return torch.where(i < n, i, 2 * n - 1 - i)
    i = i % (2 * n - 2)  # reflect, d c b | a b c: period 2n − 2
    return torch.where(i < n, i, 2 * n - 2 - i)


def _blur(x, sigma, gen, variant: str = ""):
    """Separable Gaussian blur, σ per image. A variant sets the radius and border (``family``: per image, a radius
    drawn from BLUR_FAMILY's range of multiples of σ and one of its borders); each kernel is normalised over its
    own radius."""
    n, c, h, w = x.shape
    sig = sigma.float()
    if variant == "family":
        (lo, hi), borders = BLUR_FAMILY
        mult = lo + (hi - lo) * torch.rand(n, generator=gen)
        radii = torch.ceil(mult * sig).long()
        border = torch.randint(0, len(borders), (n,), generator=gen)
    elif variant:
        radii = torch.tensor([blur_radius(float(s), variant) for s in sig], dtype=torch.long)
        borders = (BLUR_VARIANTS[variant][1],)
        border = torch.zeros(n, dtype=torch.long)
    else:  # this project's: every image's kernel over the largest σ's radius (as its checkpoints were trained)
        r = min(blur_radius(float(sig.max())), h - 1, w - 1) if n else 0  # (its border needs r < the size)
        radii = torch.full((n,), r, dtype=torch.long)
        borders = ("reflect",)
        border = torch.zeros(n, dtype=torch.long)
    radius = int(radii.max()) if n else 0
    if radius == 0:
        return x.clone(), None
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sig.clamp_min(1e-6).view(-1, 1)) ** 2) * (t.abs() <= radii.view(-1, 1))
    k = (k / k.sum(dim=1, keepdim=True)).to(x.device, x.dtype).repeat_interleave(c, dim=0)  # per (image, channel)
    y = torch.empty_like(x)
    for b, mode in enumerate(borders):
        idx = (border == b).nonzero().view(-1)
        if not len(idx):
            continue
        rows, cols = (border_index(size, radius, mode).to(x.device) for size in (h, w))
        xb = x[idx.to(x.device)].reshape(1, len(idx) * c, h, w)[:, :, rows][:, :, :, cols]
        kb = k.view(n, c, -1)[idx.to(x.device)].reshape(len(idx) * c, 1, -1)
        yb = F.conv2d(xb, kb.view(-1, 1, 1, 2 * radius + 1), groups=len(idx) * c)
        yb = F.conv2d(yb, kb.view(-1, 1, 2 * radius + 1, 1), groups=len(idx) * c)
        y[idx.to(x.device)] = yb.reshape(len(idx), c, h, w)
    return y, None


def _lowres(x, f, gen):
    n, c, h, w = x.shape
    f = f.round().long().clamp(1, min(h, w))
    y = x.clone()
    for factor in f.unique().tolist():
        if factor == 1:
            continue
        idx = (f == factor).nonzero().view(-1).to(x.device)
        small = F.avg_pool2d(x[idx], factor, ceil_mode=True)
        y[idx] = F.interpolate(small, size=(h, w), mode="nearest")
    return y, None


_KIND_FNS = {
    "gaussian": _gaussian,
    "erasure": _erasure,
    "blur": _blur,
    "block": _block,
    "saltpepper": _saltpepper,
    "lowres": _lowres,
}


def _mix(x: torch.Tensor, gen: torch.Generator):
    """Per image: a random kind (or none) and a random severity from MIX_RANGES."""
    n, _c, h, w = x.shape
    choice = torch.randint(0, len(KINDS), (n,), generator=gen)
    clean = torch.rand(n, generator=gen) < MIX_CLEAN_FRACTION
    choice[clean] = -1
    u = torch.rand(n, generator=gen)
    scale = min(h, w) / 28  # block sizes scale with the image

    def severity(i, idx):
        kind = KINDS[i]
        lo, hi = MIX_RANGES[kind]
        sev = lo + (hi - lo) * u[idx]
        if kind == "block":
            sev = sev * scale
        return sev.round() if kind in ("block", "lowres") else sev

    return _by_group(x, choice, KINDS, severity, gen)


def _oneof(x: torch.Tensor, options: tuple[Corruption, ...], gen: torch.Generator):
    """Per image: one of ``options``, uniformly."""
    choice = torch.randint(0, len(options), (x.shape[0],), generator=gen)
    kinds = [c.kind for c in options]
    return _by_group(x, choice, kinds, lambda i, idx: torch.full((len(idx),), options[i].severity), gen,
                     [c.variant for c in options])


def _by_group(x, choice, kinds, severity, gen, variants=None):
    """Apply ``kinds[i]`` (with ``variants[i]``, a blur's) to the images whose ``choice`` is i (others stay clean),
    with per-image severities ``severity(i, idx)``; one mask for the whole batch."""
    n, _c, h, w = x.shape
    y = x.clone()
    mask = torch.zeros(n, 1, h, w, device=x.device, dtype=x.dtype)
    for i, kind in enumerate(kinds):
        idx = (choice == i).nonzero().view(-1)
        if len(idx) == 0:
            continue
        didx = idx.to(x.device)
        yi, mi = _apply(kind, x[didx], severity(i, idx), gen, variants[i] if variants else "")
        y[didx] = yi
        if mi is not None:
            mask[didx] = mi
    return y, mask


def describe(spec: str | Corruption) -> str:
    """A human label, e.g. 'Gaussian noise σ=0.5' (in the page's language, :mod:`vae_demo.language`)."""
    c = parse_spec(spec)
    if c.kind == "none":
        return _("no corruption")
    if c.kind == "mix":
        return _("random mix of corruptions")
    if c.kind == "oneof":
        return _("one of: {options}", options=", ".join(describe(o) for o in c.options))
    labels = {
        "gaussian": _("Gaussian noise σ={v:g}", v=c.severity),
        "erasure": _("pixel erasure p={v:g}", v=c.severity),
        "blur": _("Gaussian blur σ={v:g}", v=c.severity) if not c.variant else
        _("Gaussian blur σ={v:g}, {how} kernel and border", v=c.severity, how=_(BLUR_NAMES[c.variant])),
        "block": _("block mask {v:g}px", v=c.severity),
        "saltpepper": _("salt-and-pepper p={v:g}", v=c.severity),
        "lowres": _("low resolution ×{v:g}", v=c.severity),
    }
    return labels[c.kind]

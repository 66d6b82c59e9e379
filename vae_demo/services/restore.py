"""Corrupt one image and restore it with every model that fits its dataset, with PSNR/SSIM captions.

The row: original, corrupted, the blind restorers (checkpoints trained on a corruption), every other
autoencoder/VAE's reconstruction of the corrupted image, PCA, and the best classical restorer
(:mod:`vae_demo.classical`, when it is installed). The row is **like for like**: the ``mask_aware``
box decides what *every* panel is told.

- Unticked (or a corruption without a mask): nothing is given the mask. Every learned model sees only
  the corrupted image, and the classical panel is the best tuned *blind* classical restorer (median or
  Gaussian filter for salt-and-pepper and erasure, ...). Where the catalogue has none (block mask) the
  classical panel shows the input unchanged, says so, and takes no part in the contest.
- Ticked, with a corruption that has a mask: every restorer is given it. Learned outputs keep the pixels
  the corruption left intact (``x̂ = m·f(x̃) + (1−m)·x̃``), a model trained with the mask as an input
  (``--mask-input``) is also given the mask itself, and the classical panel is the best tuned restorer
  given the mask (inpainting; a blind one is composited like the learned outputs). All are labelled
  mask-aware.

The green "winner" frame only compares restorers given the same information (see :func:`mark_best`),
and the summary says which were compared.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from vae_demo.corruptions import KINDS, MIX_RANGES, SEVERITY, corrupt, describe, parse_spec
from vae_demo.language import _
from vae_demo.metrics import psnr, ssim_per_image
from vae_demo.services import inputs
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import captioned, to_uint8, upscale
from vae_demo.services.registry import ModelEntry, ModelRegistry
from vae_demo.services.testdata import check_dataset

log = logging.getLogger(__name__)

KIND_LABELS = {
    "gaussian": "Gaussian noise",
    "erasure": "pixel erasure",
    "blur": "blur",
    "block": "block mask",
    "saltpepper": "salt-and-pepper",
    "lowres": "low resolution",
}


# Gaussian noise opens at σ = 0.1: mild enough that every plain autoencoder/VAE committed here scores
# *below* the noisy input on each dataset's first test image, while the denoising ones beat it — the
# point the restore tab's explanation makes (tests/test_demo.py checks it on the committed checkpoints).
STORY_SEVERITY = {"gaussian": 0.1}
CLASSICAL = "classical"  # the row's classical restorer, as a choice in the model picker


def default_severity(kind: str) -> float:
    if kind in STORY_SEVERITY:
        return STORY_SEVERITY[kind]
    lo, hi = MIX_RANGES[kind]
    v = lo + 0.6 * (hi - lo)
    return float(round(v)) if kind in ("block", "lowres") else round(v, 2)


def severity_range(kind: str, image_size: int = 32) -> tuple[float, float, float]:
    """(min, max, step) for the severity slider of ``kind``."""
    _what, lo, hi = SEVERITY[kind]
    if kind == "block":
        return 0.0, float(min(hi, image_size)), 1.0
    if kind == "lowres":
        return lo, hi, 1.0
    return lo, hi, 0.01 if hi <= 2 else 0.1


def make_spec(kind: str, severity, image_size: int = 32) -> str:
    """A corruption spec from UI/API values. The severity is checked against ``kind``'s own range
    (the page's slider shows that range once the kind is chosen; an API caller may send any kind with
    any severity in one call): outside it → a message with the range; NaN → the kind's default."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise UserInputError(_("unknown corruption {got}; choose one of {choices}", got=inputs.quote(kind),
                               choices=", ".join(KINDS)))
    s = inputs.number(severity, _("severity"))
    lo, hi, _step = severity_range(kind, image_size)
    if math.isnan(s):
        s = default_severity(kind)
    if not lo <= s <= hi:  # ±inf too
        raise UserInputError(_("{kind}: severity must be from {lo:g} to {hi:g} ({what}), got {s:g}",
                               kind=_(KIND_LABELS[kind]), lo=lo, hi=hi, what=_(SEVERITY[kind][0]), s=s))
    return str(parse_spec(f"{kind}:{s:.4g}"))


def clean_seed(seed) -> int:
    """A seed from the UI/API: a finite number, taken as a whole number modulo 2³¹."""
    return inputs.number(seed, _("seed"), whole=True) % (2**31)


def _clamp_dims(d, most: int) -> int:
    v = inputs.number(d, _("PCA components"))
    return most if not math.isfinite(v) else int(min(max(round(v), 1), most))


def check_settings(dataset, kind, severity, seed=0, mask_aware=False, pca_dims=None) -> None:
    """UserInputError (one line) for any restore setting that :func:`restore_row` would refuse; for
    callers that have no image yet (the message then comes before "pick an image")."""
    from vae_demo.data import dataset_info

    make_spec(kind, severity, dataset_info(check_dataset(dataset)).image_shape[-1])
    clean_seed(seed)
    inputs.flag(mask_aware, _("mask-aware"))
    if pca_dims is not None:
        _clamp_dims(pca_dims, 1)


@dataclass
class Panel:
    title: str
    pixels: np.ndarray  # the image at the model's own resolution (uint8); the page scales it up
    psnr: float | None = None
    ssim: float | None = None
    how: str = ""  # "blind" / "mask-aware" / ""
    best: bool = False  # the highest-PSNR restoration of its row (framed in green)
    short: str = ""  # the name alone, for the page's caption (the title says what it is, too)
    role: str = ""  # what it is: the corruption, "restorer (mix)", "VAE", the classical method ...
    compared: bool = True  # False: shown for reference only, never framed (the classical stand-in
    # "no restoration" where no classical restorer fits what the row is given)

    @property
    def image(self) -> np.ndarray:
        """Display-ready (upscaled) uint8, made only when asked for (the page takes ``pixels``)."""
        return upscale(self.pixels)

    @property
    def metrics(self) -> str:
        if self.psnr is None:
            return ""
        return f"PSNR {self.psnr:.1f} dB · SSIM {self.ssim:.3f}" + (f" · {_(self.how)}" if self.how else "")

    def labelled(self) -> np.ndarray:
        """The image with its title and metrics written underneath."""
        return captioned(self.image, [self.title, self.metrics or " "], font_size=17, highlight=self.best)

    @property
    def name(self) -> str:
        """The title, starred when it is the row's best (for text: tables, the summary)."""
        return f"★ {self.title}" if self.best else self.title

    @property
    def caption(self) -> str:
        if self.psnr is None:
            return self.title
        tag = f" · {_(self.how)}" if self.how else ""
        return f"{self.title} — PSNR {self.psnr:.1f} dB · SSIM {self.ssim:.3f}{tag}"


def _scores(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    y = y.float().clamp(0, 1)
    return psnr(y, x), float(ssim_per_image(y, x)[0])


NO_RESTORATION = "no restoration"  # vae_demo.classical.IDENTITY's name: no classical restorer fits


def _classical(x, corrupted, mask, spec, dataset):
    """(name, label, restored) from vae_demo.classical, or None (not installed yet, or it failed).

    ``mask`` is what the classical restorer is given: None makes it pick the best tuned *blind* one."""
    try:
        from vae_demo.classical import restore_classical  # written by another engineer; optional
    except ImportError:
        return None
    try:
        try:
            name, label, restored = restore_classical(x, corrupted, mask, spec, dataset=dataset)
        except TypeError:  # an older signature without ``dataset``
            name, label, restored = restore_classical(x, corrupted, mask, spec)
    except Exception as err:  # its failure must not take the row down
        log.warning("classical restorer failed on %s: %s", spec, err)
        return None
    r = torch.as_tensor(np.asarray(restored)).float()
    if r.numel() and float(r.max()) > 1.5:  # uint8-scaled
        r = r / 255.0
    if r.ndim == 2:
        r = r[None, None]
    elif r.ndim == 3:
        r = r.permute(2, 0, 1)[None] if r.shape[-1] in (1, 3) and r.shape[0] not in (1, 3) else r[None]
    if r.shape != x.shape:
        log.warning("classical restorer returned shape %s for %s", tuple(r.shape), tuple(x.shape))
        return None
    return str(name), str(label), r


def _mean_restore_psnr(e: ModelEntry) -> float:
    """The mean blind test PSNR over the benchmark's corruptions recorded in the checkpoint (-inf if none)."""
    c = e.meta.get("benchmark", {}).get("restore", {}).get("corruptions", {})
    vals = [v["psnr"] for v in c.values() if isinstance(v, dict) and isinstance(v.get("psnr"), (int, float))]
    return float(np.mean(vals)) if vals else float("-inf")


def default_models(registry: ModelRegistry, dataset: str) -> list[str]:
    """The row a class sees first: the best blind restorer (by its recorded benchmark numbers), one plain
    autoencoder/VAE (the point: it is no denoiser), and the best classical restorer. Models trained in
    the app ("yours") are not in it; the picker adds them."""
    entries = [e for e in registry.entries(dataset) if not e.yours]
    restorers = [e for e in entries if e.is_restorer and not e.model.mask_input]
    plain = [e for e in entries if not e.is_restorer and not e.is_pca and e.has_latent_code]
    out = []
    if restorers:
        out.append(max(restorers, key=lambda e: (_mean_restore_psnr(e), e.name)).name)
    if plain:
        beta1 = [e for e in plain if e.beta in (None, 1.0)] or plain  # no KL term, or the ELBO
        out.append(max(beta1, key=lambda e: (e.is_vae, e.meta.get("metrics", {}).get("test_psnr", 0.0), e.name)).name)
    return out + [CLASSICAL]


def model_choices(registry: ModelRegistry, dataset: str) -> list[tuple[str, str]]:
    """(label, value) of everything the row can show for ``dataset``: each model, and the classical restorer."""
    return [(e.short_label, e.name) for e in registry.entries(dataset)] + [(_("classical (best tuned)"), CLASSICAL)]


DEFAULT_SOURCE = "the test image"  # the original's caption when the caller does not say where it came from
MAX_SOURCE_CHARS = 60


def _clean_source(source) -> str:
    """The original panel's caption: where the image came from ("your upload", "test image #12")."""
    if source is None:
        return DEFAULT_SOURCE
    if not isinstance(source, str):
        raise UserInputError(_("source must be text, got {got}", got=type(source).__name__))
    text = " ".join(source.split())  # one line
    if len(text) > MAX_SOURCE_CHARS:
        text = text[:MAX_SOURCE_CHARS - 1] + "…"
    return text or DEFAULT_SOURCE


def _short(p: Panel) -> str:
    return _("classical {role}", role=p.role) if p.short == CLASSICAL else (p.short or p.title)


@torch.no_grad()
def restore_row(registry: ModelRegistry, dataset: str, x: torch.Tensor, kind: str, severity, seed=0,
                mask_aware: bool = False, classical: bool = True, pca_dims=None,
                models: list[str] | None = None, source: str | None = None) -> tuple[list[Panel], str]:
    """Corrupt ``x`` (1, C, H, W) and restore it with every model of ``dataset`` (only those named in
    ``models`` when it is given; ``"classical"`` among them adds the classical restorer).

    Like for like: with ``mask_aware`` (and a corruption that has a mask) every restorer is given the
    mask; without it none is, and the classical panel is the best tuned *blind* classical restorer.
    The best panel (framed in green) is chosen only among restorers given the same information.
    ``pca_dims``: keep only the first d principal components of PCA models (None: all they have).
    ``source``: where the original came from, for its caption ("your upload", "test image #12";
    None: "the test image"). Returns (panels, one-line summary)."""
    if models is not None:
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
            raise UserInputError(_("models must be a list of model names"))
        classical = classical and CLASSICAL in models
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
        raise UserInputError(_("pick or upload an image first"))
    spec = make_spec(kind, severity, int(x.shape[-1]))
    seed = clean_seed(seed)
    mask_aware = inputs.flag(mask_aware, _("mask-aware"))
    if pca_dims is not None:
        _clamp_dims(pca_dims, 1)  # a bad value is refused even when no PCA model is in the row
    source = _clean_source(source)
    corrupted, mask = corrupt(x, spec, seed)
    panels = [Panel(_("original"), to_uint8(x[0]), short=_("original"), role=source)]
    p, s = _scores(x, corrupted)
    panels.append(Panel(_("corrupted: {what}", what=describe(spec)), to_uint8(corrupted[0]), p, s, short=_("corrupted"),
                        role=describe(spec)))
    use_mask = mask_aware and mask is not None
    t0 = time.perf_counter()
    for e in registry.entries(dataset):
        if tuple(e.model.image_shape) != tuple(x.shape[1:]) or (models is not None and e.name not in models):
            continue
        d = e.latent_dim
        if e.is_pca and pca_dims is not None:
            d = _clamp_dims(pca_dims, e.latent_dim)
            out = e.model.decode(e.model.encode(corrupted)[:, :d]).float().clamp(0, 1)
        else:
            out = e.model.reconstruct(corrupted, mask if use_mask else None).float().clamp(0, 1)
        if use_mask:
            out = mask * out + (1 - mask) * corrupted
        p, s = _scores(x, out)
        role = f"PCA, d={d}" if e.is_pca else e.role
        panels.append(Panel(f"{e.name} [{role}]", to_uint8(out[0]), p, s, "mask-aware" if use_mask else "blind",
                            short=e.name, role=role))
    n_models = len(panels) - 2
    level = "mask-aware" if use_mask else "blind"  # what every restorer in the row is given
    note = ""
    if classical:
        # like for like: the classical restorer gets the mask exactly when the learned ones do
        c = _classical(x, corrupted, mask if use_mask else None, spec, dataset)
        if c is not None:
            name, label, r = c
            how = label if label in ("blind", "mask-aware") else level
            if use_mask and how == "blind":  # a blind filter told the mask keeps the intact pixels, too
                r, how = mask * r + (1 - mask) * corrupted, "mask-aware"
            p, s = _scores(x, r)
            if name == NO_RESTORATION:
                what = _("no {level} classical restorer for {kind}: the input unchanged", level=_(level),
                         kind=_(KIND_LABELS.get(kind, kind)))
                panels.append(Panel(_("classical: {name}", name=name), to_uint8(r[0]), p, s, how, short=CLASSICAL,
                                    role=what, compared=False))
                note = _("; no {level} classical restorer exists for {kind}: the classical panel is the input "
                         "unchanged, left out of the contest", level=_(level), kind=_(KIND_LABELS.get(kind, kind)))
                note += "" if use_mask else _(" (tick mask-aware for inpainting)")
            else:
                panels.append(Panel(_("classical: {name}", name=name), to_uint8(r[0]), p, s, how, short=CLASSICAL,
                                    role=name))
    ms = (time.perf_counter() - t0) * 1000
    summary = (_("{what}, seed {seed}: {n} model(s) of {dataset}", what=describe(spec), seed=seed, n=n_models,
                 dataset=dataset)
               + (_(" — none trained for this dataset yet (see the Train tab)") if n_models == 0 else "")
               + _("; restored in {ms:.0f} ms", ms=ms))
    best = mark_best(panels, how=level)
    restorations = [p for p in panels[2:] if p.psnr is not None and p.compared]
    same = [p for p in restorations if p.how == level]
    others = [p for p in restorations if p.how != level]
    if same:
        if use_mask:
            why = _("each given the damage mask")
        elif mask is not None:
            why = _("none is given the damage mask; tick mask-aware to give it to them")
        elif mask_aware:
            why = _("{kind} leaves no damage mask to give", kind=_(KIND_LABELS.get(kind, kind)))
        else:
            why = _("none is given a damage mask")
        n = len(same)
        names = ", ".join(_short(p) for p in same)
        summary += (_("; compared like for like: the {n} {level} restorers ({names}; {why})", n=n, level=_(level),
                      names=names, why=why) if n != 1 else
                    _("; compared like for like: the {n} {level} restorer ({names}; {why})", n=n, level=_(level),
                      names=names, why=why))
    if others:
        summary += _("; left out of the contest, given other information: {which}", which=", ".join(
            f"{_short(p)} ({_(p.how) if p.how else _('unlabelled')})" for p in others))
    summary += note
    if best is not None:
        summary += _("; best here (framed in green): **{title}** ({psnr:.1f} dB, {gain:+.1f} dB over the corrupted "
                     "input), the best of the {level} restorers", title=best.title, psnr=best.psnr,
                     gain=best.psnr - panels[1].psnr, level=_(level))
    return panels, summary


def _png_uri(pixels: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def row_html(panels: list[Panel], size: int = 224) -> str:
    """The row as HTML for the page: each panel ``size`` px wide (the image at its own resolution,
    scaled up pixel-sharp by the browser), its name, PSNR and SSIM as text under it — readable on a
    projector, and never cut off as captions burned into pixels were."""
    cells = []
    for p in panels:
        name = html.escape(_(p.short) if p.short == CLASSICAL else (p.short or p.title))
        scores = (("★ " if p.best else "") + f"{p.psnr:.1f} dB · SSIM {p.ssim:.2f}") if p.psnr is not None else "&nbsp;"
        role = html.escape(", ".join(v for v in (p.role, _(p.how) if p.how else "") if v))
        cells.append(
            f'<figure class="vd-panel{" vd-best" if p.best else ""}" style="width:{int(size)}px">'
            f'<img src="{_png_uri(p.pixels)}" alt="{html.escape(p.title)}" width="{int(size)}" height="{int(size)}">'
            f'<figcaption><span class="vd-name">{name}</span>'
            f'<span class="vd-metrics">{scores}</span><span class="vd-role">{role}</span></figcaption></figure>')
    return '<div class="vd-row">' + "".join(cells) + "</div>"


def mark_best(panels: list[Panel], how: str | None = None) -> Panel | None:
    """Mark the restoration (any panel after original and corrupted) with the highest PSNR; return it.

    With many models in a row, a class sees at a glance which one wins on this image. Only restorers
    given the same information compete: ``how`` ("blind" / "mask-aware") keeps the contest to the
    panels labelled so (None: every panel); panels shown for reference only (``compared`` False)
    never win."""
    scored = [p for p in panels[2:] if p.psnr is not None and math.isfinite(p.psnr) and p.compared
              and (how is None or p.how == how)]
    if not scored:
        return None
    best = max(scored, key=lambda p: p.psnr)
    best.best = True
    return best

"""The latent space: which dims matter, slider decoding, the 2-D map, the manifold grid, interpolation.

Slider values are in *standard units* of each latent dim: ``z_d = mean_d + v · std_d``. For a VAE the
prior is N(0, I), so mean 0 and std 1 and a slider value is z itself; for an autoencoder or PCA the
mean and std come from the test-set encodings stored with the checkpoint (PCA: its eigenvalues), so
±3 covers the data whatever the scale of the code.

Everything expensive (encodings, KL per dim, projections, t-SNE) is computed once per model and
cached on its registry entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vae_demo.language import N_, _
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import display, grid, to_uint8
from vae_demo.services.registry import ModelEntry
from vae_demo.services.testdata import TestImages

MAX_SLIDERS = 16
SLIDER_RANGE = 3.0
ENCODE_LIMIT = 2000  # test images encoded when a checkpoint has no stored encodings
KL_IMAGES = 1000  # test images used for the exact KL per dim of a VAE
TSNE_POINTS = 1000  # t-SNE is slow on two cores (~10 s for 1000 points): a subsample


# --- stored encodings and per-dim statistics --------------------------------------------------------

def _cached(entry: ModelEntry, key, fn):
    """entry.cache[key], computed by ``fn`` outside the lock (a slow t-SNE must not block sliders);
    two racing callers may both compute it, the first result wins."""
    with entry.lock:
        if key in entry.cache:
            return entry.cache[key]
    value = fn()
    with entry.lock:
        return entry.cache.setdefault(key, value)


def encodings(entry: ModelEntry, images: TestImages | None) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(latents (N, D) float32, labels (N,), source) of test images, or None when there are none.

    Preferred source: the encodings stored in the checkpoint (no data needed). Fallback: encode up to
    ENCODE_LIMIT test images now (cached)."""

    def compute():
        ex = entry.ckpt.extras
        if "test_latents" in ex and ex["test_latents"].ndim == 2 and ex["test_latents"].shape[1] == entry.code_length:
            z = ex["test_latents"].float().numpy()
            labels = ex.get("test_labels")
            y = labels.long().numpy() if labels is not None and len(labels) == len(z) else np.zeros(len(z), int)
            return np.nan_to_num(z), y, N_("stored with the checkpoint")
        s = images.get(entry.dataset) if images is not None else None
        if s is None:
            return None
        x = s.floats(slice(0, ENCODE_LIMIT))
        with torch.no_grad():
            z = torch.cat([entry.model.embed(x[i:i + 500]).float() for i in range(0, len(x), 500)])
        return z.numpy(), s.labels[:ENCODE_LIMIT].numpy(), N_("encoded from the test images")

    return _cached(entry, "encodings", compute)


@dataclass
class LatentStats:
    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)
    score: np.ndarray  # (D,) informativeness, larger first
    order: np.ndarray  # dims sorted by score, descending
    what: str  # what the score is, for the UI
    unit: str = ""  # how one dim's score reads on its slider, e.g. "KL {:.2f} nats"

    latent_dim: int = 0  # the dims a slider may move (a conditional model's code goes on with its class)

    @property
    def shown(self) -> np.ndarray:
        order = self.order if not self.latent_dim else self.order[self.order < self.latent_dim]
        return order[:MAX_SLIDERS]


def latent_stats(entry: ModelEntry, images: TestImages | None) -> LatentStats:
    """Mean, std and informativeness order of the latent dims.

    - VAE: mean KL(q(z_d|x) ‖ N(0,1)) per dim over test images (exact, from the encoder's mean and
      log-variance) when test images are present; otherwise the variance of the stored posterior
      means ("activity", which ranks dims the same way in practice). Mean 0, std 1 (the prior).
    - PCA: the eigenvalues (variance explained); mean 0, std √eigenvalue.
    - AE: the variance of the test encodings.
    """
    entry.require_latent_code()
    if entry.model.discrete:
        raise UserInputError(_("model {name} has a discrete code (a grid of codebook indices), not dims to slide: "
                               "pick it in the Latent sliders tab to edit its code grid", name=entry.name))
    return _cached(entry, "stats", lambda: _compute_stats(entry, images))


def _compute_stats(entry: ModelEntry, images: TestImages | None) -> LatentStats:
    """The model says how its dims read (:meth:`~vae_demo.models.base.Autoencoder.latent_scores`), from up to
    KL_IMAGES test images where there are some and the test codes (stored, or encoded now)."""
    enc = encodings(entry, images)
    s = images.get(entry.dataset) if images is not None else None
    x = s.floats(slice(0, KL_IMAGES)) if s is not None else None
    codes = torch.from_numpy(np.ascontiguousarray(enc[0])) if enc is not None else None
    r = entry.model.latent_scores(x, codes)
    score = r.score.double().cpu().numpy()
    return LatentStats(r.mean.double().cpu().numpy(), r.std.double().cpu().numpy(), score,
                       np.argsort(-score, kind="stable"), r.what, r.unit, entry.latent_dim)


# --- sliders ----------------------------------------------------------------------------------------

def clean_values(values, n: int, name: str = N_("latent values")) -> np.ndarray:
    """A list from the UI/API → float array of length n, NaN → 0, clamped to ±SLIDER_RANGE."""
    try:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise UserInputError(_("{name} must be numbers", name=_(name))) from None
    if len(v) != n:
        raise UserInputError(_("{name}: expected {n} numbers (the model's latent size), got {got}", name=_(name), n=n,
                               got=len(v)))
    return np.clip(np.nan_to_num(v, nan=0.0, posinf=SLIDER_RANGE, neginf=-SLIDER_RANGE), -SLIDER_RANGE, SLIDER_RANGE)


def to_latent(stats: LatentStats, values: np.ndarray) -> torch.Tensor:
    """Standard units → a latent batch (1, D)."""
    return torch.from_numpy((stats.mean + values * stats.std).astype(np.float32)).unsqueeze(0)


def from_latent(stats: LatentStats, z: torch.Tensor) -> np.ndarray:
    v = (z.detach().double().cpu().numpy().reshape(-1) - stats.mean) / stats.std
    return np.clip(np.nan_to_num(v), -SLIDER_RANGE, SLIDER_RANGE)


@torch.no_grad()
def decode(entry: ModelEntry, z: torch.Tensor, size: int = 224) -> np.ndarray:
    return display(entry.model.decode(z)[0], size)


def slider_decode(entry: ModelEntry, stats: LatentStats, base, shown_values) -> tuple[np.ndarray, np.ndarray]:
    """The slider handler: ``base`` (all D dims, standard units) with the shown dims replaced by
    ``shown_values`` (in ``stats.shown`` order) → (image, full values)."""
    v = clean_values(base, entry.code_length, N_("base latent"))
    shown = stats.shown
    sv = np.asarray(shown_values, dtype=np.float64).reshape(-1)[: len(shown)]
    sv = np.clip(np.nan_to_num(sv), -SLIDER_RANGE, SLIDER_RANGE)
    v[shown[: len(sv)]] = sv
    return decode(entry, to_latent(stats, v)), v


def random_values(entry: ModelEntry, seed=None, base=None) -> np.ndarray:
    """A draw from the prior (VAE) or from N(0, 1) in standard units (AE/PCA: a Gaussian fit); the rest of the
    code (a conditional model's class) kept from ``base``."""
    rng = np.random.default_rng(None if seed is None else int(seed))
    v = zero_values(entry, base)
    v[:entry.latent_dim] = np.clip(rng.standard_normal(entry.latent_dim), -SLIDER_RANGE, SLIDER_RANGE)
    return v


def zero_values(entry: ModelEntry, base=None) -> np.ndarray:
    """Every latent dim at 0 standard units; the rest of the code (a conditional model's class) from ``base``
    (default: the first class)."""
    v = np.zeros(entry.code_length)
    if entry.is_conditional:
        if base is not None and len(base) == entry.code_length:
            v[entry.latent_dim:] = np.asarray(base, dtype=np.float64)[entry.latent_dim:]
        else:
            v[entry.latent_dim] = 1.0
    return v


@torch.no_grad()
def encode_values(entry: ModelEntry, stats: LatentStats, x: torch.Tensor) -> np.ndarray:
    """Standard-unit values of an image's code (a VAE's posterior mean)."""
    return from_latent(stats, entry.model.embed(x.to(torch.float32)))


def slider_labels(entry: ModelEntry, stats: LatentStats) -> list[str]:
    """One label per shown slider: its rank, its dim, and what its score is (e.g. "#1: z[3] · KL 1.66 nats")."""
    out = []
    for rank, d in enumerate(stats.shown):
        score = _(stats.unit).format(stats.score[d]) if stats.unit else ""
        out.append(f"#{rank + 1}: z[{d}]" + (f" · {score}" if score else ""))
    return out


# --- the latent map ----------------------------------------------------------------------------------

@dataclass
class LatentMap:
    xy: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)
    latents: np.ndarray  # (N, D), the codes the points come from
    method: str  # "native", "pca" or "tsne"
    center: np.ndarray | None  # PCA projection: z = center + x·axes[0] + y·axes[1]
    axes: np.ndarray | None
    source: str  # where the codes come from (English: shown through _())
    explained: float | None = None  # a PCA map: the share of the codes' variance its two axes hold

    @property
    def note(self) -> str:
        """What the map is, in the visitor's language."""
        if self.method == "native":
            return _("the latent space itself (z is 2-D)")
        if self.method == "pca":
            return _("PCA projection of the {d}-D codes ({share:.0%} of their variance)", d=self.latents.shape[1],
                     share=self.explained)
        return _("t-SNE of {n} codes (no inverse: a position decodes its nearest point)", n=len(self.xy))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        lo = np.percentile(self.xy, 1, axis=0)
        hi = np.percentile(self.xy, 99, axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-6)
        return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])

    def latent_at(self, x: float, y: float) -> torch.Tensor:
        """The latent code for a map position: itself (2-D model), the inverse PCA projection, or
        (t-SNE, which has no inverse) the code of the nearest point."""
        x = float(np.nan_to_num(x))
        y = float(np.nan_to_num(y))
        if self.method == "native":
            z = np.array([x, y])
        elif self.method == "pca":
            z = self.center + x * self.axes[0] + y * self.axes[1]
        else:
            i = int(np.argmin(((self.xy - [x, y]) ** 2).sum(1)))
            z = self.latents[i]
        return torch.from_numpy(np.asarray(z, dtype=np.float32)).unsqueeze(0)


def map_class(entry: ModelEntry, m: LatentMap) -> int | None:
    """The class a conditional model's PCA map decodes with (the code's class part at the map's centre), else
    None."""
    if not entry.is_conditional or m.center is None:
        return None
    return int(np.argmax(m.center[entry.latent_dim:]))


MAP_METHODS = ("auto", "pca", "tsne")


def latent_map(entry: ModelEntry, images: TestImages | None, method: str = "auto") -> LatentMap:
    """The points of the latent map (cached per model and method). Raises UserInputError when the
    checkpoint stores no encodings and there are no test images to encode."""
    if method not in MAP_METHODS:
        raise UserInputError(_("unknown projection {got}; choose auto, pca or tsne", got=repr(str(method)[:20])))
    entry.require_latent_code()
    if entry.model.discrete:
        raise UserInputError(_("model {name} has a discrete code: its map is the codebook's", name=entry.name))
    if method == "auto":
        method = "native" if entry.latent_dim == 2 else "pca"
    if method == "pca" and entry.latent_dim <= 2:
        method = "native"
    return _cached(entry, ("map", method), lambda: _compute_map(entry, images, method))


def _compute_map(entry: ModelEntry, images, method: str) -> LatentMap:
    enc = encodings(entry, images)
    if enc is None:
        raise UserInputError(_("{name} stores no test encodings and there are no test images to encode",
                               name=entry.name))
    z, y, source = enc
    if method == "native":
        xy = z[:, :2] if z.shape[1] >= 2 else np.concatenate([z, np.zeros_like(z)], 1)
        return LatentMap(xy.astype(np.float64), y, z, "native", None, None, source)
    if method == "pca":
        d = entry.latent_dim  # a conditional model's code goes on with its class: the map is of z alone
        center = z.mean(0)
        _u, s, vt = np.linalg.svd((z[:, :d] - center[:d]).astype(np.float64), full_matrices=False)
        axes = np.concatenate([vt[:2], np.zeros((len(vt[:2]), z.shape[1] - d))], 1)
        if z.shape[1] > d:  # decoded as one class (the most common), not a blend of all of them
            center[d:] = 0.0
            center[d + int(np.bincount(np.argmax(z[:, d:], 1)).argmax())] = 1.0
        xy = (z - center) @ axes.T
        explained = (s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-12)
        return LatentMap(xy, y, z, "pca", center, axes, source, float(explained))
    from sklearn.manifold import TSNE

    n = min(len(z), TSNE_POINTS)
    xy = TSNE(n_components=2, init="pca", perplexity=30, random_state=0, max_iter=300).fit_transform(z[:n])
    return LatentMap(xy.astype(np.float64), y[:n], z[:n], "tsne", None, None, source)


@torch.no_grad()
def manifold_grid(entry: ModelEntry, m: LatentMap, k: int = 15) -> np.ndarray:
    """Decode a k×k grid of map positions over the map's extent (top row = largest y)."""
    if m.method == "tsne":
        raise UserInputError(_("a t-SNE map has no inverse: the manifold grid needs the native or PCA map"))
    k = int(min(max(int(np.nan_to_num(k, nan=15)), 2), 30))
    x0, x1, y0, y1 = m.extent
    zs = [m.latent_at(x, y) for y in np.linspace(y1, y0, k) for x in np.linspace(x0, x1, k)]
    imgs = entry.model.decode(torch.cat(zs))
    return display(grid(imgs, k, pad=0), 720)


# --- interpolation ----------------------------------------------------------------------------------

def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between codes (falls back to linear when they are nearly parallel)."""
    a, b = z0.reshape(-1).double(), z1.reshape(-1).double()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    t = t.double().view(-1, 1)
    if float(omega) < 1e-4:
        out = (1 - t) * a + t * b
    else:
        so = torch.sin(omega)
        out = torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b
    return out.float()


def clamp_steps(steps) -> int:
    try:
        s = float(steps)
    except (TypeError, ValueError):
        raise UserInputError(_("steps must be a number")) from None
    return int(min(max(int(np.nan_to_num(s, nan=8)), 2), 24))


@torch.no_grad()
def interpolate(entry: ModelEntry, xa: torch.Tensor, xb: torch.Tensor, steps=8) -> dict[str, torch.Tensor]:
    """Three paths from image a to image b, each (steps, C, H, W): pixel blend, latent linear, latent slerp."""
    entry.require_latent_code()
    n = clamp_steps(steps)
    t = torch.linspace(0, 1, n)
    za, zb = entry.model.embed(xa), entry.model.embed(xb)
    pixel = (1 - t.view(-1, 1, 1, 1)) * xa + t.view(-1, 1, 1, 1) * xb
    linear = entry.model.decode((1 - t.view(-1, 1)) * za + t.view(-1, 1) * zb)
    spherical = entry.model.decode(slerp(za, zb, t))
    return {"pixel": pixel, "linear": linear, "slerp": spherical}


STRIP_COLUMNS = 8  # a path of more steps wraps onto more rows, so frames stay ~150 px wide on a projector
STRIP_HEIGHT = 112  # each frame about this many pixels tall (an integer upscale)


def path_strip(images: torch.Tensor, height: int = STRIP_HEIGHT, columns: int = STRIP_COLUMNS) -> np.ndarray:
    """The frames in rows of at most ``columns`` with 1-pixel gaps, upscaled (nearest) so each is about
    ``height`` pixels tall."""
    strip = to_uint8(grid(images, min(len(images), columns), pad=1))
    f = max(1, height // images.shape[-2])
    return np.repeat(np.repeat(strip, f, axis=0), f, axis=1)


@torch.no_grad()
def path_difference(entry: ModelEntry, xa: torch.Tensor, xb: torch.Tensor, rows: dict) -> dict[str, float]:
    """How far apart the linear and the spherical latent paths are, in numbers the UI can quote: the angle
    between the codes, the norm of the linear path's midpoint relative to the endpoints' (1 = on the
    shell, 0 = through the origin), and the largest pixel difference between the two decoded paths."""
    za, zb = entry.model.embed(xa).reshape(-1).double(), entry.model.embed(xb).reshape(-1).double()
    ends = 0.5 * (float(za.norm()) + float(zb.norm()))
    mid = float((0.5 * (za + zb)).norm())
    return {"angle_deg": angle_between(za, zb), "midpoint_norm": mid / ends if ends > 0 else 1.0,
            "max_pixel_diff": float((rows["linear"] - rows["slerp"]).abs().max())}


def gif_frames(images: torch.Tensor, size: int = 224) -> list[np.ndarray]:
    return [display(im, size) for im in images]


@torch.no_grad()
def angle_between(za: torch.Tensor, zb: torch.Tensor) -> float:
    a, b = za.reshape(-1).double(), zb.reshape(-1).double()
    return math.degrees(float(torch.arccos((a @ b / (a.norm() * b.norm()).clamp_min(1e-12)).clamp(-1, 1))))

"""Discrete codes (any model whose interface declares ``discrete``, e.g. the VQ-VAE): the code-grid
editor and the codebook map.

- The **code grid** of an image is its (h, w) grid of codebook indices. The editor shows the decoded
  image with the grid drawn over it; a click picks a cell (:func:`cell_at`), and :func:`set_cell`
  gives it another code, so one sees which part of the image one cell controls.
- The **codebook map** is a PCA of the K code vectors, each dot sized by how often test images use it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from vae_demo.language import _
from vae_demo.models.base import code_usage
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import display
from vae_demo.services.latent import _cached
from vae_demo.services.registry import ModelEntry
from vae_demo.services.testdata import TestImages

VIEW_SIZE = 336  # the editor's picture, about this many pixels: an integer upscale (view_size)
CODE_FONT_PX = 15  # each cell's code, readable from the back of a room (a cell is 40-48 px)
USAGE_IMAGES = 2000  # test images whose codes count the codebook's use


def view_size(entry: ModelEntry) -> int:
    """The editor picture's side: the image upscaled by a whole factor, so each cell is whole pixels
    (MNIST 28 → 336, 7 cells of 48; CIFAR-10 32 → 320, 8 cells of 40)."""
    h = int(entry.model.image_shape[-2])
    return max(1, VIEW_SIZE // h) * h


def require_discrete(entry: ModelEntry) -> None:
    if not entry.model.discrete:
        raise UserInputError(_("model {name} has a continuous code, not a grid of codebook indices: use the sliders",
                               name=entry.name))


# --- the code grid ----------------------------------------------------------------------------------

@torch.no_grad()
def image_codes(entry: ModelEntry, x: torch.Tensor) -> np.ndarray:
    """The (h, w) code grid of one image ``x`` (1, C, H, W)."""
    require_discrete(entry)
    return entry.model.codes(x.to(torch.float32)).cpu().numpy()[0].astype(np.int64)


def check_grid(entry: ModelEntry, grid) -> np.ndarray:
    """A grid from the UI/API → (h, w) int array of valid indices, or UserInputError saying what is wrong."""
    require_discrete(entry)
    h, w = entry.model.code_grid
    k = entry.model.codebook_size
    try:
        g = np.asarray(grid, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserInputError(_("the code grid must be whole numbers")) from None
    if g.shape != (h, w):
        raise UserInputError(_("the code grid must be {h}×{w} (this model's), got shape {shape}", h=h, w=w,
                               shape=tuple(g.shape)))
    if not np.all(np.isfinite(g)) or np.any(g != np.round(g)) or g.min() < 0 or g.max() >= k:
        raise UserInputError(_("codes must be whole numbers 0..{hi} (the codebook has {k})", hi=k - 1, k=k))
    return g.astype(np.int64)


def set_cell(entry: ModelEntry, grid, row, col, code) -> np.ndarray:
    """A copy of ``grid`` with cell (row, col) set to ``code``: exactly one cell changes."""
    g = check_grid(entry, grid).copy()
    h, w = g.shape
    k = entry.model.codebook_size
    try:
        r, c, v = int(row), int(col), float(code)
    except (TypeError, ValueError):
        raise UserInputError(_("pick a cell by clicking the grid, and a code by number")) from None
    if not (0 <= r < h and 0 <= c < w):
        raise UserInputError(_("cell ({r}, {c}) is outside the {h}×{w} grid", r=r, c=c, h=h, w=w))
    if not (np.isfinite(v) and v == int(v) and 0 <= v < k):
        raise UserInputError(_("code must be a whole number 0..{hi}, got {got}", hi=k - 1, got=code))
    g[r, c] = int(v)
    return g


def random_grid(entry: ModelEntry, seed=None) -> np.ndarray:
    """Codes drawn uniformly (the prior a VQ-VAE is trained with; it has no learned prior here)."""
    require_discrete(entry)
    rng = np.random.default_rng(None if seed is None else int(seed))
    return rng.integers(0, entry.model.codebook_size, size=entry.model.code_grid)


@torch.no_grad()
def decode_grid(entry: ModelEntry, grid) -> torch.Tensor:
    """The image (C, H, W) in [0, 1] a code grid decodes to."""
    g = torch.from_numpy(check_grid(entry, grid)).unsqueeze(0)
    return entry.model.decode_codes(g)[0].float().cpu()


def cell_at(entry: ModelEntry, x, y, size: int | None = None) -> tuple[int, int]:
    """The (row, col) of the cell under pixel (x, y) of the editor's picture (``size`` pixels square,
    by default the editor's: view_size)."""
    require_discrete(entry)
    h, w = entry.model.code_grid
    size = size or view_size(entry)
    try:
        fx, fy = float(x) / size, float(y) / size
    except (TypeError, ValueError):
        raise UserInputError(_("click inside the grid")) from None
    if not (np.isfinite(fx) and np.isfinite(fy)):
        raise UserInputError(_("click inside the grid"))
    return int(min(max(fy * h, 0), h - 1)), int(min(max(fx * w, 0), w - 1))


@functools.lru_cache(maxsize=1)
def _code_font():
    """The cells' code numbers' font (loaded once: the editor redraws on every click)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=CODE_FONT_PX)


def grid_view(entry: ModelEntry, image: torch.Tensor, grid, selected: tuple[int, int] | None = None,
              size: int | None = None) -> np.ndarray:
    """The editor's picture: ``image`` upscaled to ``size`` (by default view_size), the cells' borders,
    each cell's code in its corner and the ``selected`` cell outlined in orange."""
    from PIL import Image, ImageDraw

    font = _code_font()
    g = check_grid(entry, grid)
    h, w = g.shape
    size = size or view_size(entry)
    pic = Image.fromarray(display(image, size)).convert("RGB")
    draw = ImageDraw.Draw(pic, "RGBA")
    ch, cw = size / h, size / w
    for r in range(h + 1):
        draw.line([(0, r * ch), (size, r * ch)], fill=(90, 160, 255, 150), width=1)
    for c in range(w + 1):
        draw.line([(c * cw, 0), (c * cw, size)], fill=(90, 160, 255, 150), width=1)
    for r in range(h):
        for c in range(w):
            text = str(int(g[r, c]))
            x0, y0 = c * cw + 2, r * ch + 1
            draw.rectangle([x0, y0, x0 + draw.textlength(text, font=font) + 3, y0 + CODE_FONT_PX + 2],
                           fill=(0, 0, 0, 150))
            draw.text((x0 + 2, y0 + 1), text, fill=(255, 255, 120, 255), font=font)
    if selected is not None:
        r, c = selected
        draw.rectangle([c * cw, r * ch, (c + 1) * cw, (r + 1) * ch], outline=(255, 140, 0, 255), width=3)
    return np.asarray(pic)


# --- the codebook's use -----------------------------------------------------------------------------

@dataclass
class CodebookUse:
    counts: np.ndarray  # (K,) cells using each code over the test images
    perplexity: float
    used: float  # share of the K codes used at all
    images: int
    source: str


@torch.no_grad()
def codebook_use(entry: ModelEntry, images: TestImages | None) -> CodebookUse:
    """How often the test images' cells use each code: from the codes stored with the checkpoint, else
    from encoding up to USAGE_IMAGES test images now (cached per model)."""
    require_discrete(entry)
    k = entry.model.codebook_size

    def compute():
        stored = entry.ckpt.extras.get("test_codes")
        if stored is not None and stored.dim() == 3 and tuple(stored.shape[1:]) == tuple(entry.model.code_grid):
            codes, source = stored.long(), "stored with the checkpoint"
        else:
            s = images.get(entry.dataset) if images is not None else None
            if s is None:
                raise UserInputError(_("{name} stores no test codes and there are no test images to encode",
                                       name=entry.name))
            x = s.floats(slice(0, USAGE_IMAGES))
            codes = torch.cat([entry.model.codes(x[i:i + 500]) for i in range(0, len(x), 500)])
            source = "encoded from the test images"
        u = code_usage(codes, k)
        return CodebookUse(u.counts.numpy(), u.perplexity, u.used, len(codes), source)

    return _cached(entry, "codebook_use", compute)


def codes_by_use(use: CodebookUse) -> list[int]:
    """The codes, most used first (the code picker's order)."""
    return [int(i) for i in np.argsort(-use.counts, kind="stable")]


@torch.no_grad()
def explained_variance(vectors) -> np.ndarray:
    """The share of the variance of ``vectors`` (N, D) along each principal component, largest first."""
    v = np.asarray(vectors, dtype=np.float64)
    s = np.linalg.svd(v - v.mean(0), compute_uv=False)
    share = s ** 2 / max(float((s ** 2).sum()), 1e-12)
    return np.pad(share, (0, max(0, v.shape[1] - len(share), 2 - len(share))))  # one per dim, at least two


SPREAD_IMAGES = 200  # test images whose encoder outputs the codebook's spread is compared with


def spread_text(entry: ModelEntry, images: TestImages | None) -> str:
    """How many directions of its D the codebook uses (the variance along its first principal components), the
    same for the encoder's outputs over some test images' cells, and why a codebook can lie on a plane."""
    require_discrete(entry)
    book = explained_variance(entry.model.codebook().cpu())
    d = entry.model.codebook().shape[1]
    s = images.get(entry.dataset) if images is not None else None
    if s is None or not len(s):
        return _("Its {d}-D code vectors spread along few directions: the first two principal components hold "
                 "{a:.1%} and {b:.1%} of their variance.", d=d, a=book[0], b=book[1])
    with torch.no_grad():
        x = s.floats(slice(0, SPREAD_IMAGES)).to(entry.model.device)
        outputs = entry.model.embed(x).reshape(len(x), d, -1).permute(0, 2, 1).reshape(-1, d)
    enc = explained_variance(outputs.cpu())
    return _("**Why the codebook lies on a plane.** Its {d}-D code vectors spread along few directions: the first two "
             "principal components hold {a:.1%} and {b:.1%} of their variance, and the encoder's outputs too "
             "({c:.1%} + {e:.1%} over {n} test images' cells). Nothing in the loss asks for more directions: the "
             "codebook term pulls each code towards the outputs it is nearest to, the commitment term pulls the "
             "outputs towards their codes, and {k} codes can be told apart on a plane as well as in {d} dimensions. "
             "So the encoder's outputs settle on a plane and the codes, started on those outputs, stay there: the "
             "other dimensions are width the decoder reads but nothing fills.", d=d, a=book[0], b=book[1], c=enc[0],
             e=enc[1], n=len(x), k=entry.model.codebook_size)


def codebook_points(entry: ModelEntry) -> tuple[np.ndarray, str]:
    """(K, 2) PCA projection of the code vectors, and what the axes are."""
    book = entry.model.codebook().double().cpu().numpy()
    center = book - book.mean(0)
    _u, s, vt = np.linalg.svd(center, full_matrices=False)
    xy = center @ vt[:2].T if vt.shape[0] >= 2 else np.concatenate([center[:, :1], np.zeros((len(book), 1))], 1)
    explained = float((s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-12))
    return xy, f"PCA of the {len(book)} code vectors ({book.shape[1]}-D; {explained:.0%} of their variance)"


def use_text(entry: ModelEntry, use: CodebookUse) -> str:
    k = entry.model.codebook_size
    h, w = entry.model.code_grid
    bits = entry.model.latent_bits()
    return _("{k} codes; {used:.0%} used by the cells of {n} test images (codes {source}); perplexity "
             "{perplexity:.1f} of {k} (the number of equally used codes with the same spread). A code is {h}×{w} "
             "indices: {bits:.0f} bits.", k=k, used=use.used, n=use.images, source=_(use.source),
             perplexity=use.perplexity, h=h, w=w, bits=bits)

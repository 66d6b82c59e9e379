"""A conditional model's class: the same z decoded with every class, and a path from one class to another.

A conditional model (``entry.is_conditional``, a cVAE) decodes a *code*: the latent z, then K class weights.
Keeping z and changing the weights keeps the style (slant, stroke, thickness) and changes the class.
"""

from __future__ import annotations

import numpy as np
import torch

from vae_demo.data import dataset_info
from vae_demo.language import _
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import grid, to_uint8, upscale
from vae_demo.services.registry import ModelEntry
from vae_demo.services.testdata import TestImages

STYLE_ROWS = 3  # test images whose style the grid also shows, after the current code
PATH_STEPS = 8
CELL = 56  # pixels per image of the grids on screen


def require_conditional(entry: ModelEntry) -> None:
    if not entry.is_conditional:
        raise UserInputError(_("model {name} is not told the class: pick a conditional model (cVAE)", name=entry.name))


def class_names(entry: ModelEntry) -> tuple[str, ...]:
    """The names of the model's classes (the dataset's, where it has as many), else their numbers."""
    names = dataset_info(entry.dataset).class_names
    k = entry.model.num_classes
    return tuple(names) if len(names) == k else tuple(str(i) for i in range(k))


def class_of(entry: ModelEntry, code) -> int:
    """The class a code carries: its largest class weight."""
    c = torch.as_tensor(code, dtype=torch.float32).reshape(-1)
    return int(c[entry.latent_dim:].argmax())


def check_class(entry: ModelEntry, label) -> int:
    k = entry.model.num_classes
    try:
        y = int(label)
    except (TypeError, ValueError):
        raise UserInputError(_("class must be a number 0-{hi}, got {got}", hi=k - 1, got=label)) from None
    if not 0 <= y < k:
        raise UserInputError(_("class must be a number 0-{hi}, got {got}", hi=k - 1, got=label))
    return y


@torch.no_grad()
def every_class(entry: ModelEntry, codes: torch.Tensor) -> torch.Tensor:
    """(N, K, C, H, W): each code (N, code_length) decoded with each of the K classes."""
    require_conditional(entry)
    m = entry.model
    k = m.num_classes
    z = codes.float().to(m.device).repeat_interleave(k, 0)
    labels = torch.arange(k).repeat(len(codes))
    return m.decode(m.with_class(z, labels)).float().cpu().reshape(len(codes), k, *m.image_shape)


@torch.no_grad()
def style_codes(entry: ModelEntry, images: TestImages | None, n: int = STYLE_ROWS) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` test images (N, C, H, W) and their codes, or empty tensors without test images."""
    s = images.get(entry.dataset) if images is not None else None
    if s is None or not len(s):
        return torch.empty(0, *entry.model.image_shape), torch.empty(0, entry.code_length)
    x = s.floats(slice(0, n))
    return x, entry.model.embed(x.to(entry.model.device)).float().cpu()


def every_class_picture(entry: ModelEntry, code, images: TestImages | None) -> np.ndarray:
    """The grid "the same z, every class": a row per code (the given one, then the test images' codes), a column
    per class; the test images' rows start with the image itself (the first row with a blank)."""
    code = torch.as_tensor(np.asarray(code, dtype=np.float32)).reshape(1, -1)
    x, codes = style_codes(entry, images)
    decoded = every_class(entry, torch.cat([code, codes]))
    first = torch.cat([torch.zeros(1, *entry.model.image_shape), x])  # the source image column (none: black)
    rows = torch.cat([first.unsqueeze(1), decoded], 1)  # (N, K + 1, C, H, W)
    return _picture(rows.reshape(-1, *entry.model.image_shape), rows.shape[1])


@torch.no_grad()
def class_path(entry: ModelEntry, code, a: int, b: int, steps: int = PATH_STEPS) -> torch.Tensor:
    """(steps, C, H, W): the code's z decoded while its class weights move from class ``a`` to class ``b``:
    (1 − t)·onehot(a) + t·onehot(b)."""
    require_conditional(entry)
    m = entry.model
    a, b = check_class(entry, a), check_class(entry, b)
    t = torch.linspace(0, 1, int(steps)).unsqueeze(1)
    w = (1 - t) * m.one_hot(a) + t * m.one_hot(b)
    z = torch.as_tensor(np.asarray(code, dtype=np.float32)).reshape(1, -1).expand(len(t), -1)
    return m.decode(m.with_class(z.to(m.device), w.to(m.device))).float().cpu()


def class_path_picture(entry: ModelEntry, code, a: int, b: int, steps: int = PATH_STEPS) -> np.ndarray:
    return _picture(class_path(entry, code, a, b, steps), int(steps))


def _picture(images: torch.Tensor, ncols: int) -> np.ndarray:
    """Images tiled ``ncols`` a row, upscaled so each is about CELL pixels wide."""
    g = grid(images, ncols)
    return upscale(to_uint8(g), max(g.shape[1:]) * max(1, CELL // images.shape[-1]))



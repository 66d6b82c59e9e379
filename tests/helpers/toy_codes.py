"""A toy model with a discrete code, for testing the app's generic support (code-grid editor, codebook
map, stored codes) without any particular model family: 28×28 images as a 4×4 grid of cells, each cell
one of K grey levels (its mean intensity, quantised). It declares ``discrete`` and nothing else tells
the app what it is."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vae_demo.checkpoints import save_checkpoint
from vae_demo.models.base import MODELS, Autoencoder

CELL = 7  # pixels per cell side: 28×28 → 4×4


class ToyCodes(Autoencoder):
    kind = "toy_codes"
    family = "toy codes"
    description = "toy discrete code (grey level per cell)"
    discrete = True

    def __init__(self, image_shape, latent_dim=1, recon="mse", levels=8):
        super().__init__(image_shape, latent_dim, recon)
        self.codebook_size = int(levels)
        self.code_grid = (image_shape[1] // CELL, image_shape[2] // CELL)
        self.levels = nn.Parameter(torch.linspace(0.02, 0.98, self.codebook_size).view(-1, 1))

    def hparams(self):
        return {"recon": self.recon, "levels": self.codebook_size}

    def encode(self, x):
        return F.avg_pool2d(x[:, :1], CELL).flatten(1)

    def _nearest(self, z):
        g = z.view(len(z), 1, *self.code_grid)
        return (g.unsqueeze(-1) - self.levels.view(-1)).abs().argmin(-1)[:, 0]

    def codes(self, x):
        return self._nearest(self.encode(x))

    def _image(self, codes):
        img = self.levels.view(-1)[codes].unsqueeze(1)
        return F.interpolate(img, scale_factor=CELL, mode="nearest").expand(-1, self.image_shape[0], -1, -1)

    def decode_codes(self, codes):
        return self._image(codes.long())

    def decode_logits(self, z):
        return torch.logit(self._image(self._nearest(z)), eps=1e-4)

    def codebook(self):
        return self.levels.detach()


def register_toy():
    MODELS["toy_codes"] = ToyCodes
    return ToyCodes


def unregister_toy():
    MODELS.pop("toy_codes", None)


def save_toy(directory, name="t_toy_codes", dataset="mnist", with_codes=True, x=None):
    """A toy checkpoint in ``directory`` (and, with ``x``, its test codes stored as training stores them)."""
    model = ToyCodes((1, 28, 28))
    extras = {}
    if with_codes and x is not None:
        extras = {"test_codes": model.codes(x).to(torch.uint8), "test_labels": torch.zeros(len(x), dtype=torch.int16)}
    save_checkpoint(name, model, {"dataset": dataset, "corruption": "none", "metrics": {}}, directory, extras=extras)
    return model

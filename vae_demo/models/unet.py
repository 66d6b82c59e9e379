"""U-Net restorer: an encoder-decoder with skip connections, so nothing has to squeeze through a code.

A bottleneck autoencoder must rebuild every pixel from ``z``; that caps how sharp its restorations
can be. A U-Net also passes each encoder level's feature map straight to the decoder level of the
same size, so it only has to learn the *correction*. That makes it the strongest restorer here, and
also why it has no latent code to explore: ``encode`` returns the feature maps of every level
(``has_latent_code = False`` keeps it out of the latent tabs; it still restores in every tab that
restores). ``latent_dim`` is the channel count of its coarsest level (H/4 × W/4).
Train it with ``recon="bce"`` on MNIST-like images: squared error through the output sigmoid let a
U-Net collapse to all-black on MNIST (the gradient vanishes once the sigmoid saturates at 0).

Levels: two 3×3 convolutions per level; stride-2 convolutions down, 2×2 transposed convolutions up;
the corrupted input itself joins the last layer, so "leave this pixel alone" is easy to learn.
``mask_input=True``: the damage mask is one more input channel (see :mod:`vae_demo.models.base`),
so the network knows which zeros are erased pixels and which are black ink or background.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vae_demo.models.base import Autoencoder, register
from vae_demo.settings import Setting


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(),
    )


@register("unet")
class UNet(Autoencoder):
    description = "U-Net restorer (skip connections, no latent code)"
    family = "U-Net"
    has_latent_code = False
    channels_last = True
    SETTINGS = (
        Setting("channels", "ints", "channels of each level above the coarsest (whose width is the latent size), "
                "e.g. 32,64", lo=1, hi=1024, ui=False),
        Setting("mask_input", "bool", "also give the model the corruption's damage mask (erasure, block, "
                "saltpepper) as one more input channel, as classical inpainting is given it",
                label="Mask input", tag="mask"),
    )

    def __init__(self, image_shape, latent_dim, recon="bce", channels=None, mask_input=False):
        super().__init__(image_shape, latent_dim, recon)
        c = self.image_shape[0]
        self.channels = tuple(int(ch) for ch in (channels or (32, 64)))
        self.mask_input = bool(mask_input)
        widths = [*self.channels, self.latent_dim]  # level 0 (full size), 1, ..., coarsest
        self.down = nn.ModuleList([_block(c + self.mask_input, widths[0])])
        for w_in, w_out in zip(widths, widths[1:]):
            self.down.append(_block(w_in, w_out, stride=2))
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w_coarse, w_fine in zip(reversed(widths[1:]), reversed(widths[:-1])):
            self.up.append(nn.ConvTranspose2d(w_coarse, w_fine, 2, stride=2))
            self.merge.append(_block(2 * w_fine, w_fine))
        self.head = nn.Conv2d(widths[0] + c, c, 3, padding=1)

    def hparams(self):
        hp = {**super().hparams(), "channels": list(self.channels)}
        if self.mask_input:
            hp["mask_input"] = True
        return hp

    def encode(self, x):
        """The feature maps of every level, finest first, and the input image (what the decoder reuses)."""
        h = self.with_mask(x)  # a mask-input model given no mask: "nothing known to be missing"
        feats = [h[:, : self.image_shape[0]]]
        for block in self.down:
            h = block(h)
            feats.append(h)
        return tuple(feats)

    def decode_logits(self, feats):
        x, skips, h = feats[0], feats[1:-1], feats[-1]
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            h = up(h)
            if h.shape[-2:] != skip.shape[-2:]:  # odd sizes: crop or pad back to the skip's size
                dh, dw = skip.shape[-2] - h.shape[-2], skip.shape[-1] - h.shape[-1]
                h = F.pad(h, (0, dw, 0, dh))
            h = merge(torch.cat([h, skip], dim=1))
        return self.head(torch.cat([h, x], dim=1))

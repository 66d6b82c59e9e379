"""Convolutional autoencoder and VAE.

Encoder: 3×3 stride-2 convolutions (32→64 channels; one more, 128, for 32×32 RGB images), then a
linear layer to z (AE) or 2·z (VAE). Decoder: a linear layer, then transposed convolutions back up.
"""

from __future__ import annotations

import torch.nn as nn

from vae_demo.models.base import VAE, Autoencoder, register
from vae_demo.settings import Setting


def _at_most(channels: tuple, n: int) -> tuple:
    if len(channels) > n:
        raise ValueError(f"channels: at most {n} layers, got {len(channels)}")
    return channels


def default_channels(image_shape) -> tuple[int, ...]:
    return (32, 64) if image_shape[1] <= 28 else (32, 64, 128)


class _Conv:
    SETTINGS = (Setting("channels", "ints", "channels of each stride-2 conv layer, e.g. 64,128 (default: 32,64; "
                        "32,64,128 for 32×32 images)", lo=1, hi=1024, parse=lambda v: _at_most(v, 5), ui=False),)

    def _build(self, channels, out_dim: int):
        c, h, w = self.image_shape
        self.channels = tuple(int(ch) for ch in (channels or default_channels(self.image_shape)))
        layers, prev, sizes = [], c, [(h, w)]
        for ch in self.channels:
            layers += [nn.Conv2d(prev, ch, 3, stride=2, padding=1), nn.ReLU()]
            prev = ch
            h, w = (h + 1) // 2, (w + 1) // 2
            sizes.append((h, w))
        self.feat_shape = (prev, h, w)
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(prev * h * w, out_dim))
        self.fc_dec = nn.Linear(self.latent_dim, prev * h * w)
        ups, chans = [], list(reversed(self.channels[:-1])) + [c]
        for i, ch in enumerate(chans):
            (h_in, _), (h_out, _) = sizes[-1 - i], sizes[-2 - i]
            out_pad = h_out - (2 * h_in - 1)  # 7→14 needs 1, 4→7 needs 0
            ups.append(nn.ConvTranspose2d(prev, ch, 3, stride=2, padding=1, output_padding=out_pad))
            if i < len(chans) - 1:
                ups.append(nn.ReLU())
            prev = ch
        self.decoder = nn.Sequential(*ups)

    def decode_logits(self, z):
        return self.decoder(nn.functional.relu(self.fc_dec(z)).view(-1, *self.feat_shape))


@register("conv_ae")
class ConvAE(_Conv, Autoencoder):
    description = "convolutional autoencoder"

    def __init__(self, image_shape, latent_dim, recon="bce", channels=None):
        Autoencoder.__init__(self, image_shape, latent_dim, recon)
        self._build(channels, self.latent_dim)

    def hparams(self):
        return {**super().hparams(), "channels": list(self.channels)}

    def encode(self, x):
        return self.encoder(x)


@register("conv_vae")
class ConvVAE(_Conv, VAE):
    description = "convolutional VAE"

    def __init__(self, image_shape, latent_dim, recon="bce", beta=1.0, channels=None):
        VAE.__init__(self, image_shape, latent_dim, recon, beta)
        self._build(channels, 2 * self.latent_dim)

    def hparams(self):
        return {**super().hparams(), "channels": list(self.channels)}

    def encode(self, x):
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

"""Fully connected autoencoder and VAE (784-400-z, as in Kingma & Welling's MNIST setup)."""

from __future__ import annotations

import math

import torch.nn as nn
import torch.nn.functional as F

from vae_demo.models.base import VAE, Autoencoder, register
from vae_demo.settings import Setting


class _MLP:
    SETTINGS = (Setting("hidden", "int", "units of the hidden layer (encoder and decoder)", lo=1, hi=4096, ui=False),)

    def _build(self, hidden: int, out_dim: int):
        self.hidden = int(hidden)
        d = math.prod(self.image_shape)
        self.fc1 = nn.Linear(d, self.hidden)
        self.fc_out = nn.Linear(self.hidden, out_dim)
        self.fc3 = nn.Linear(self.latent_dim, self.hidden)
        self.fc4 = nn.Linear(self.hidden, d)

    def _features(self, x):
        return self.fc_out(F.relu(self.fc1(x.flatten(1))))

    def decode_logits(self, z):
        return self.fc4(F.relu(self.fc3(z))).view(-1, *self.image_shape)


@register("mlp_ae")
class MLPAE(_MLP, Autoencoder):
    description = "MLP autoencoder"

    def __init__(self, image_shape, latent_dim, recon="bce", hidden=400):
        Autoencoder.__init__(self, image_shape, latent_dim, recon)
        self._build(hidden, self.latent_dim)

    def hparams(self):
        return {**super().hparams(), "hidden": self.hidden}

    def encode(self, x):
        return self._features(x)


@register("mlp_vae")
class MLPVAE(_MLP, VAE):
    description = "MLP VAE"

    def __init__(self, image_shape, latent_dim, recon="bce", beta=1.0, hidden=400):
        VAE.__init__(self, image_shape, latent_dim, recon, beta)
        self._build(hidden, 2 * self.latent_dim)

    def hparams(self):
        return {**super().hparams(), "hidden": self.hidden}

    def encode(self, x):
        mu, logvar = self._features(x).chunk(2, dim=1)
        return mu, logvar

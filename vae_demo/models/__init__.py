"""The model zoo. Every model has one interface (see :mod:`vae_demo.models.base`).

A model registers itself with ``@register("name")`` in its own file; importing this package makes
it appear in the training CLI, the benchmark and every tab of the app.
"""

from vae_demo.models import conv, cvae, mlp, pca, unet, vqvae  # noqa: F401  (registers the models)
from vae_demo.models.base import MODELS, Autoencoder, build_model, register

__all__ = ["MODELS", "Autoencoder", "build_model", "register"]

"""A tiny world for app tests: synthetic data for the three datasets and one-epoch checkpoints of
several model families, made by the project's own training run."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.images import write_npz
from vae_demo.training import TrainConfig
from vae_demo.training.run import run

TINY_MODELS = [  # name, dataset, model, latent, corruption
    ("t_mlp_vae_z2", "mnist", "mlp_vae", 2, "none"),
    ("t_conv_vae_z3", "mnist", "conv_vae", 3, "none"),
    ("t_conv_ae_z3", "mnist", "conv_ae", 3, "none"),  # the VAE's autoencoder twin (AE vs VAE)
    ("t_conv_ae_z3_noise", "mnist", "conv_ae", 3, "gaussian:0.5"),  # ... and its denoising twin (filters)
    ("t_conv_ae_z4_mix", "mnist", "conv_ae", 4, "mix"),
    ("t_pca_z8", "mnist", "pca", 8, "none"),
    ("t_cifar_vae_z4", "cifar10", "conv_vae", 4, "none"),
    ("t_unet_mix", "mnist", "unet", 8, "mix"),
]


def make_tiny_world(root: Path) -> tuple[Path, Path]:
    """(data dir, checkpoint dir) with tiny data and one-epoch checkpoints."""
    data, ck = root / "data", root / "ck"
    write_npz(data, "mnist.npz", (28, 28), n_train=128, n_test=64, seed=0)
    write_npz(data, "fashion_mnist.npz", (28, 28), n_train=128, n_test=64, seed=10)
    write_npz(data, "cifar10.npz", (32, 32, 3), n_train=128, n_test=64, seed=20)
    for name, ds, model, z, corr in TINY_MODELS:
        cfg = TrainConfig(dataset=ds, model=model, latent_dim=z, epochs=1, batch_size=32, corruption=corr,
                          train_limit=128, device="cpu")
        run(cfg, name, data, download=False, checkpoint_dir=ck, progress=False)
    return data, ck

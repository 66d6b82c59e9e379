"""Integration tests on the real datasets (../shared/data in CI; skipped with a message elsewhere)."""

import pytest
import torch

from vae_demo.data import load_dataset
from vae_demo.training import TrainConfig, train

pytestmark = pytest.mark.integration


def test_real_mnist(shared_data):
    tr = load_dataset("mnist", "train", shared_data, download=False)
    te = load_dataset("mnist", "test", shared_data, download=False)
    assert tr.images.shape == (60000, 1, 28, 28) and te.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(te.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(float(tr.images.float().mean()) / 255 - 0.130660) < 1e-4


def test_real_fashion_and_cifar(shared_data):
    f = load_dataset("fashion-mnist", "test", shared_data, download=False)
    assert f.images.shape == (10000, 1, 28, 28) and torch.bincount(f.labels).tolist() == [1000] * 10
    c = load_dataset("cifar10", "test", shared_data, download=False)
    assert c.images.shape == (10000, 3, 32, 32) and torch.bincount(c.labels).tolist() == [1000] * 10
    means = c.images.float().mean(dim=(0, 2, 3)) / 255
    assert torch.allclose(means, torch.tensor([0.49, 0.48, 0.45]), atol=0.03)


def test_one_short_epoch_on_real_mnist_learns(shared_data):
    tr = load_dataset("mnist", "train", shared_data, download=False)
    te = load_dataset("mnist", "test", shared_data, download=False)
    te.images, te.labels = te.images[:2000], te.labels[:2000]
    cfg = TrainConfig(model="mlp_vae", latent_dim=20, epochs=1, train_limit=12800, device="cpu")
    res = train(cfg, tr, te)
    assert res.history[0]["test_loss"] < 180  # an untrained model scores ~545

"""Shared fixtures: small synthetic datasets written in the Keras npz layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def synthetic_images(n: int, shape, seed: int = 0) -> np.ndarray:
    """Blob-like uint8 images (N, H, W) or (N, H, W, 3): learnable structure, not noise."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((n, h, w) + tuple(shape[2:]), dtype=np.float64)
    for i in range(n):
        cy, cx = rng.uniform(h * 0.3, h * 0.7), rng.uniform(w * 0.3, w * 0.7)
        r = rng.uniform(3, h / 4)
        blob = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))
        if len(shape) == 3:
            blob = blob[..., None] * rng.uniform(0.3, 1.0, size=3)
        out[i] = blob
    return (out * 255).round().astype(np.uint8)


def write_npz(folder: Path, file: str, shape, n_train=96, n_test=48, seed=0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    path = folder / file
    np.savez_compressed(
        path,
        x_train=synthetic_images(n_train, shape, seed),
        y_train=rng.integers(0, 10, n_train).astype(np.uint8),
        x_test=synthetic_images(n_test, shape, seed + 1),
        y_test=rng.integers(0, 10, n_test).astype(np.uint8),
    )
    return path


@pytest.fixture(autouse=True)
def user_checkpoints(tmp_path, monkeypatch) -> Path:
    """Models trained in the app go to the user's folder: a fresh one per test, never the real one."""
    d = tmp_path / "user_checkpoints"
    monkeypatch.setenv("VAE_DEMO_USER_CHECKPOINTS", str(d))
    return d


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A data dir with tiny synthetic mnist, fashion-mnist and cifar10 npz files."""
    d = tmp_path / "data"
    write_npz(d, "mnist.npz", (28, 28), seed=0)
    write_npz(d, "fashion_mnist.npz", (28, 28), seed=10)
    write_npz(d, "cifar10.npz", (32, 32, 3), seed=20)
    monkeypatch.setenv("VAE_DEMO_DATA", str(d))
    return d


@pytest.fixture
def shared_data() -> Path:
    """The real datasets: $VAE_DEMO_DATA if it holds them, else ../shared/data. Required in CI."""
    for cand in (os.environ.get("VAE_DEMO_DATA"), SHARED_DATA):
        if cand and (Path(cand) / "mnist.npz").is_file():
            return Path(cand)
    if os.environ.get("CI"):
        pytest.fail("CI is set but the real datasets (../shared/data) are missing")
    pytest.skip("real datasets not found: set VAE_DEMO_DATA or put ../shared/data beside the repo")

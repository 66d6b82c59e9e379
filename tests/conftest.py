"""Shared fixtures: small synthetic datasets written in the Keras npz layout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.images import write_npz

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


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


@pytest.fixture(scope="module")
def committed_registry():
    """The committed checkpoints only (no models trained in the app on this machine)."""
    from vae_demo.services.registry import ModelRegistry

    ckpt = Path(__file__).resolve().parents[1] / "checkpoints"
    return ModelRegistry(ckpt, user_directory=ckpt / "__none__")

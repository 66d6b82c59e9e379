"""Tiny synthetic images and datasets in the Keras npz layout (uint8), for fast tests without real data:
blobs (:func:`synthetic_images`, :func:`write_npz`), strokes and colour fields (:func:`make_data_dir`),
and a model-ready batch (:func:`batch`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch


def strokes(n: int, size: int = 28, seed: int = 0) -> np.ndarray:
    """MNIST-like: 2-3 thick bright strokes on a black background, (n, size, size) uint8."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        img = np.zeros((size, size), np.uint8)
        for _ in range(rng.integers(2, 4)):
            p1 = tuple(int(v) for v in rng.integers(4, size - 4, 2))
            p2 = tuple(int(v) for v in rng.integers(4, size - 4, 2))
            cv2.line(img, p1, p2, int(rng.integers(180, 256)), thickness=int(rng.integers(2, 4)))
        out[i] = cv2.GaussianBlur(img, (3, 3), 0.7)
    return out


def smooth_colour(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """CIFAR-like: smooth random colour fields with a bright box, (n, size, size, 3) uint8."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        small = rng.uniform(0.1, 0.9, (4, 4, 3)).astype(np.float32)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
        y0, x0 = rng.integers(2, size // 2, 2)
        img[y0:y0 + 8, x0:x0 + 8] = rng.uniform(0.6, 1.0, 3)
        out[i] = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return out


def write_split(path: Path, x_train, x_test, seed: int = 0) -> Path:
    """``x_train``/``x_test`` with random labels, in the Keras npz layout."""
    rng = np.random.default_rng(seed)
    np.savez_compressed(
        path, x_train=x_train, y_train=rng.integers(0, 10, len(x_train)).astype(np.uint8),
        x_test=x_test, y_test=rng.integers(0, 10, len(x_test)).astype(np.uint8),
    )
    return path


def make_data_dir(root: Path, datasets=("mnist",), n_train: int = 64, n_test: int = 32) -> Path:
    """Write tiny npz files for ``datasets`` into ``root`` and return it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files = {"mnist": "mnist.npz", "fashion-mnist": "fashion_mnist.npz", "cifar10": "cifar10.npz"}
    for k, name in enumerate(datasets):
        if name == "cifar10":
            make = smooth_colour
        else:
            make = strokes
        write_split(root / files[name], make(n_train, seed=10 * k + 1), make(n_test, seed=10 * k + 2), seed=k)
    return root


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


def batch(shape, n=64, seed=0) -> torch.Tensor:
    """``n`` blob images as a float batch of ``shape`` = (C, H, W), values in [0, 1]."""
    hw = shape[1:] + ((3,) if shape[0] == 3 else ())
    x = torch.from_numpy(synthetic_images(n, hw, seed)).float() / 255
    return x.permute(0, 3, 1, 2).contiguous() if shape[0] == 3 else x.unsqueeze(1)

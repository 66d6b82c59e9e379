"""Test images for the app, one cached split per dataset, and what to say when there are none.

Where they come from: the data dir (``$VAE_DEMO_DATA``, else ``./data``) — Keras npz files or
torchvision's folders, exactly as :mod:`vae_demo.data` reads them. The app never downloads at
start-up, and by default never at all: a Space or a laptop without network must not hang on a
download. Set ``VAE_DEMO_DOWNLOAD=1`` to let the app fetch a missing dataset through torchvision the
first time a tab asks for its images (this may take minutes on a slow link).

Without data the app still works: drawing, upload, sliders, sampling and the latent map (which
reads encodings stored in each checkpoint) need no test images; :func:`offline_banner` says what is
missing and how to fix it.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import torch

from vae_demo.data import (
    DATA_ENV,
    DATASETS,
    DataNotFoundError,
    ImageSet,
    dataset_info,
    default_data_dir,
    load_dataset,
)
from vae_demo.services.images import UserInputError

DOWNLOAD_ENV = "VAE_DEMO_DOWNLOAD"


def download_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def check_dataset(name: str) -> str:
    """Validate a dataset name from the UI or the API."""
    if not isinstance(name, str) or name not in DATASETS:
        raise UserInputError(f"unknown dataset {str(name)[:40]!r}; choose one of {', '.join(DATASETS)}")
    return name


class TestImages:
    """Lazily loaded, cached test splits. Thread-safe; a failed load is remembered (not retried on
    every click) until the app restarts."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, data_dir=None):
        self.data_dir = data_dir
        self._sets: dict[str, ImageSet | None] = {}
        self._lock = threading.Lock()

    def present_on_disk(self, name: str) -> bool:
        """Cheap check (no reading): is the dataset's file or folder in the data dir?"""
        info = dataset_info(name)
        root = default_data_dir(self.data_dir)
        return (root / info.npz_file).is_file() or (root / info.torchvision_folder).is_dir()

    def get(self, name: str) -> ImageSet | None:
        check_dataset(name)
        with self._lock:
            if name not in self._sets:
                try:
                    self._sets[name] = load_dataset(name, "test", self.data_dir, download=download_allowed())
                except (DataNotFoundError, ValueError, OSError, KeyError):
                    self._sets[name] = None
            return self._sets[name]

    def require(self, name: str) -> ImageSet:
        s = self.get(name)
        if s is None:
            raise UserInputError(
                f"no {name} test images here: set {DATA_ENV} to a folder with {dataset_info(name).npz_file} "
                "(or draw / upload an image instead)")
        return s

    def image(self, name: str, index) -> tuple[torch.Tensor, int, int]:
        """(image (1, C, H, W) float, clamped index, label)."""
        s = self.require(name)
        i = clamp_index(index, len(s))
        return s.floats(slice(i, i + 1)), i, int(s.labels[i])

    def random_index(self, name: str, seed=None, label: int | None = None, exclude=None) -> int:
        """A random test image (of class ``label``); never ``exclude`` (the one on screen) if there is another."""
        s = self.require(name)
        rng = np.random.default_rng(None if seed is None else int(seed))
        if label is None:
            try:
                skip = clamp_index(exclude, len(s)) if exclude is not None and len(s) > 1 else None
            except UserInputError:
                skip = None
            if skip is None:
                return int(rng.integers(len(s)))
            i = int(rng.integers(len(s) - 1))  # uniform over the others
            return i + (i >= skip)
        try:
            label = int(label)
        except (TypeError, ValueError):
            raise UserInputError(f"class must be a number 0-{len(s.class_names) - 1}, got {str(label)[:20]!r}") from None
        idx = (s.labels == label).nonzero().view(-1)
        if len(idx) == 0:
            raise UserInputError(f"no test image of class {label} in {name}")
        return int(idx[int(rng.integers(len(idx)))])

    def gallery(self, name: str, n: int = 24, start: int = 0) -> list[tuple[np.ndarray, str]]:
        """(image, caption) pairs of ``n`` test images from ``start``, for ``gr.Gallery``."""
        from vae_demo.services.images import display

        s = self.get(name)
        if s is None:
            return []
        out = []
        for i in range(start, min(len(s), start + n)):
            out.append((display(s.floats(slice(i, i + 1))[0], 112), f"#{i} {s.class_names[int(s.labels[i])]}"))
        return out


def clamp_index(index, n: int) -> int:
    """An image index from a UI number box or the API: NaN/None → 0, clamped into [0, n)."""
    try:
        i = float(index)
    except (TypeError, ValueError):
        raise UserInputError(f"image index must be a number, got {str(index)[:30]!r}") from None
    if not np.isfinite(i):
        i = 0
    return int(min(max(int(i), 0), max(n - 1, 0)))


def offline_banner(images: TestImages) -> str:
    """Markdown for the top of the app; empty when every dataset's test images are on disk."""
    missing = [n for n in DATASETS if not images.present_on_disk(n)]
    if not missing:
        return ""
    where = default_data_dir(images.data_dir)
    return (
        f"**Test images are unavailable for {', '.join(missing)}** (nothing in `{where}`). "
        "Drawing, upload, the latent sliders, sampling and the latent map still work. "
        f"To fix it, set `{DATA_ENV}=/path/to/data` to a folder with "
        + ", ".join(f"`{dataset_info(n).npz_file}`" for n in missing)
        + " (Keras npz layout) and restart"
        + ("" if download_allowed() else f", or set `{DOWNLOAD_ENV}=1` on a machine with network access")
        + "."
    )

"""Test images for the app, one cached split per dataset, and what to tell the user about them.

Where they come from, in this order:

1. the data dir (``$VAE_DEMO_DATA``, else ``./data``): Keras npz files or torchvision's folders,
   exactly as :mod:`vae_demo.data` reads them — the whole test split;
2. else the small sample shipped with the app (:func:`vae_demo.data.load_sample`: the first 64 test
   images of each dataset), so the app's main job works with no data dir and no network.

A request never waits for a download. Downloads (torchvision, into the data dir) happen only in the
background, when allowed: by default on a Hugging Face Space (the ``SPACE_ID`` variable is set) and
nowhere else; ``VAE_DEMO_DOWNLOAD=1`` / ``=0`` overrides either way. :meth:`TestImages.start_downloads`
fetches every missing dataset in one daemon thread; when one is in, the next request gets the whole
split instead of the sample (``version`` goes up, so open pages can refresh) — no restart.

:func:`data_banner` says which images each dataset is using and how to get the full ones.
"""

from __future__ import annotations

import logging
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
    download_dataset,
    full_split_on_disk,
    load_dataset,
    load_sample,
    load_test_images,
)
from vae_demo.language import _
from vae_demo.services.errors import UserInputError

log = logging.getLogger(__name__)

DOWNLOAD_ENV = "VAE_DEMO_DOWNLOAD"
SPACE_ENV = "SPACE_ID"  # set by Hugging Face on every Space
FULL_TEST_SIZE = 10_000  # every dataset here has 10,000 test images


def on_space() -> bool:
    return bool(os.environ.get(SPACE_ENV))


def download_allowed() -> bool:
    """May the app download missing datasets? ``VAE_DEMO_DOWNLOAD`` (1/0, true/false, yes/no, on/off)
    if set, else yes on a Hugging Face Space and no elsewhere (a laptop offline must never hang)."""
    value = os.environ.get(DOWNLOAD_ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return on_space()


def check_dataset(name: str) -> str:
    """Validate a dataset name from the UI or the API."""
    if not isinstance(name, str) or name not in DATASETS:
        raise UserInputError(_("unknown dataset {name}; choose one of {choices}", name=repr(str(name)[:40]),
                               choices=", ".join(DATASETS)))
    return name


class TestImages:
    """Lazily loaded, cached test splits (the whole split, else the shipped sample). Thread-safe; a
    failed load is remembered (not retried on every click) until a background download brings the
    dataset in."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, data_dir=None, sample_path=None):
        self.data_dir = data_dir
        self.sample_path = sample_path  # None: the sample shipped in the package
        self._sets: dict[str, ImageSet | None] = {}
        self._samples: dict[str, ImageSet | None] = {}
        self._lock = threading.RLock()  # re-entered: a split's load may read the sample
        self.downloads: dict[str, str] = {}  # dataset -> "downloading", "done" or "failed: why"
        self.version = 0  # bumped when what the UI should say changes: a download started, failed, or came in
        self._thread: threading.Thread | None = None

    def present_on_disk(self, name: str) -> bool:
        """Cheap check (no reading): is the dataset's whole test split in the data dir?"""
        return full_split_on_disk(name, "test", self.data_dir)

    def sample(self, name: str) -> ImageSet | None:
        """The shipped sample of ``name`` (read once), or None when there is none."""
        with self._lock:
            if name not in self._samples:
                try:
                    self._samples[name] = load_sample(name, self.sample_path)
                except (DataNotFoundError, ValueError, OSError, KeyError):
                    self._samples[name] = None
            return self._samples[name]

    def has_images(self, name: str) -> bool:
        """Cheap: the whole test split on disk, or the shipped sample."""
        return self.present_on_disk(name) or self.sample(name) is not None

    def get(self, name: str) -> ImageSet | None:
        """The whole test split, else the sample, else None. Never downloads (see the module doc)."""
        check_dataset(name)
        with self._lock:
            if name not in self._sets:
                self._sets[name] = self._load(name)
            return self._sets[name]

    def _load(self, name: str) -> ImageSet | None:
        try:
            return load_test_images(name, self.data_dir, download=False, sample_path=self.sample_path)
        except DataNotFoundError:
            return None
        except (ValueError, OSError, KeyError) as err:  # the whole split is there but unreadable
            log.warning("%s test split unreadable (%s); using the sample", name, err)
            return self.sample(name)

    def require(self, name: str) -> ImageSet:
        s = self.get(name)
        if s is None:
            raise UserInputError(
                _("no {name} test images here: set {env} to a folder with {file} (or draw / upload an image instead)",
                  name=name, env=DATA_ENV, file=dataset_info(name).npz_file))
        return s

    # --- background downloads ---------------------------------------------------------------------

    def start_downloads(self, names=None) -> threading.Thread | None:
        """Download every dataset in ``names`` (default: all) whose test split is missing, one after
        the other in a daemon thread; returns it (None when nothing is missing or one is running).
        Each finished dataset replaces its sample at the next request."""
        missing = [n for n in (names or DATASETS) if not self.present_on_disk(n)]
        with self._lock:
            if not missing or (self._thread is not None and self._thread.is_alive()):
                return None
            for n in missing:
                self.downloads[n] = "downloading"
            self.version += 1
            self._thread = threading.Thread(target=self._download_all, args=(missing,), name="downloads",
                                            daemon=True)
        self._thread.start()
        return self._thread

    def _download_all(self, names: list[str]) -> None:
        for name in names:
            try:
                download_dataset(name, default_data_dir(self.data_dir))
                load_dataset(name, "test", self.data_dir, download=False)  # readable? else a clear failure
                status = "done"
            except Exception as err:  # no network, a checksum mismatch, a full disk ...
                status = f"failed: {type(err).__name__}: {str(err)[:160]}"
                log.warning("download of %s %s", name, status)
            with self._lock:
                self.downloads[name] = status
                if status == "done":  # the next get() reads the whole split instead of the sample
                    self._sets.pop(name, None)
                    log.info("%s: the whole test split is in; it replaces the sample", name)
                self.version += 1

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
            raise UserInputError(_("class must be a number 0-{hi}, got {got}", hi=len(s.class_names) - 1,
                                   got=repr(str(label)[:20]))) from None
        idx = (s.labels == label).nonzero().view(-1)
        if len(idx) == 0:
            raise UserInputError(_("no test image of class {label} in {name}", label=label, name=name))
        return int(idx[int(rng.integers(len(idx)))])

    def gallery(self, name: str, n: int = 24, start: int = 0) -> list[tuple[np.ndarray, str]]:
        """(image, caption) pairs of ``n`` test images from ``start``, for ``gr.Gallery``."""
        from vae_demo.services.images import display

        s = self.get(name)
        if s is None:
            return []
        out = []
        for i in range(start, min(len(s), start + n)):
            out.append((display(s.floats(slice(i, i + 1))[0], 112), f"#{i} {_(s.class_names[int(s.labels[i])])}"))
        return out

    def describe(self, name: str) -> str:
        """One line for the UI: which test images ``name`` is using."""
        s = self.get(name)
        if s is None:
            return _("No {name} test images on this machine: upload or draw one.", name=name)
        if not s.sample:
            return _("{n:,} {name} test images.", n=len(s), name=name)
        text = _("{n} sample test images shipped with the app; set `{env}` for the full {full:,}.", n=len(s),
                 env=DATA_ENV, full=FULL_TEST_SIZE)
        if "JPEG-derived" in s.source:
            text += _(" These CIFAR-10 samples are JPEG-derived copies, not pixel-exact.")
        status = self.downloads.get(name, "")
        if status == "downloading":
            text += _(" The full split is downloading in the background and replaces them when it is in.")
        return text


def clamp_index(index, n: int) -> int:
    """An image index from a UI number box or the API: NaN/None → 0, clamped into [0, n)."""
    try:
        i = float(index)
    except (TypeError, ValueError):
        raise UserInputError(_("image index must be a number, got {got}", got=repr(str(index)[:30]))) from None
    if not np.isfinite(i):
        i = 0
    return int(min(max(int(i), 0), max(n - 1, 0)))


def data_banner(images: TestImages) -> str:
    """Markdown for the top of the app; empty when every dataset's whole test split is here. Cheap: it
    looks for files and reads only the small sample, never a whole split."""
    sample, missing, jpeg = [], [], False
    for n in DATASETS:
        if images.present_on_disk(n):
            continue
        s = images.sample(n)
        if s is None:
            missing.append(n)
            continue
        sample.append(n)
        jpeg = jpeg or "JPEG-derived" in s.source
        size = len(s)
    if not sample and not missing:
        return ""
    where = default_data_dir(images.data_dir)
    parts = []
    if sample:  # one line on a 1280-px projector: the details are in the restore tab and the README
        parts.append(_("**Test images: {n} samples per dataset shipped with the app** (CIFAR-10's are JPEG-derived).",
                       n=size) if jpeg else _("**Test images: {n} samples per dataset shipped with the app**.", n=size))
    if missing:
        parts.append(_("**No test images for {names}** (nothing in `{where}`, and no sample); drawing, upload, the "
                       "latent sliders, sampling and the latent map still work.", names=", ".join(missing), where=where))
    downloading = [n for n in sample + missing if images.downloads.get(n) == "downloading"]
    if downloading:
        parts.append(_("The full test splits of {names} are downloading in the background; they replace the samples "
                       "as soon as they are in (no restart).", names=", ".join(downloading)))
    for n in sample + missing:
        if images.downloads.get(n, "").startswith("failed"):
            parts.append(_("The download of {name} {status}.", name=n, status=images.downloads[n][:120]))
    files = ", ".join(f"`{dataset_info(n).npz_file}`" for n in missing)
    parts.append(_("For the full {full:,} set `{env}`", full=FULL_TEST_SIZE, env=DATA_ENV)
                 + (_(" to a folder with {files}", files=files) if missing else "")
                 + ("." if download_allowed() else _(" (or `{env}=1`).", env=DOWNLOAD_ENV)))
    return " ".join(parts)

"""Datasets: MNIST, Fashion-MNIST and CIFAR-10 as whole uint8 tensors.

Where the images come from, in this order:

1. a data dir (``--data-dir`` flag, else the ``VAE_DEMO_DATA`` variable, else ``./data``) holding
   Keras-layout npz files (``mnist.npz``, ``fashion_mnist.npz``, ``cifar10.npz`` with
   ``x_train, y_train, x_test, y_test``) or torchvision's own folder layout;
2. torchvision's download into that data dir, unless downloads are switched off.

If neither works, :class:`DataNotFoundError` says which dataset, where we looked and how to fix it.

For the app there is a third source of *test* images: a small fixed sample of each test split
(:data:`SAMPLE_SIZE` images, the first ones in the official order) shipped inside the package in
one npz file (:data:`SAMPLE_FILE`, no pickles), made from the real data by
``python -m vae_demo.make_sample``. :func:`load_test_images` falls back to it when the full split
is not there, so the app's main job works with no data dir and no network. Training and the
benchmark never use it. Nothing is read or downloaded at import time.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

DATA_ENV = "VAE_DEMO_DATA"
SAMPLE_FILE = Path(__file__).resolve().with_name("sample_test_images.npz")
SAMPLE_SIZE = 64
# training images shipped with the app, for the blurry view's completions when there is no data dir
POOL_FILE = SAMPLE_FILE.with_name("sample_train_pool.npz")
POOL_SIZE = 1000  # MNIST training images 0-999: 162 KiB as a compressed npz


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    image_shape: tuple[int, int, int]  # C, H, W
    class_names: tuple[str, ...]
    npz_file: str
    torchvision_class: str
    torchvision_folder: str


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", (1, 28, 28), tuple(str(d) for d in range(10)), "mnist.npz", "MNIST", "MNIST"
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist",
        (1, 28, 28),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        "fashion_mnist.npz",
        "FashionMNIST",
        "FashionMNIST",
    ),
    "cifar10": DatasetInfo(
        "cifar10",
        (3, 32, 32),
        ("airplane", "automobile", "bird", "cat", "deer",
         "dog", "frog", "horse", "ship", "truck"),
        "cifar10.npz",
        "CIFAR10",
        "cifar-10-batches-py",
    ),
}

SPLITS = ("train", "test")


class DataNotFoundError(FileNotFoundError):
    """A dataset could be found neither in the data dir nor by download."""


@dataclass
class ImageSet:
    """One split of a dataset: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    sample: bool = False  # the small sample shipped with the app, not the whole split
    source: str = ""  # where the images came from (and, for the sample, how exact they are)

    def __len__(self) -> int:
        return len(self.images)

    def floats(self, idx=slice(None), device=None) -> torch.Tensor:
        """Images ``idx`` as float32 in [0, 1]."""
        x = self.images[idx]
        if device is not None:
            x = x.to(device)
        return x.float().div_(255.0)


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


def default_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data dir: the argument, else $VAE_DEMO_DATA, else ./data."""
    if data_dir:
        return Path(data_dir)
    return Path(os.environ.get(DATA_ENV) or "data")


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> ImageSet:
    """Load one split of ``name`` as whole uint8 tensors (see the module doc for the sources)."""
    info = dataset_info(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    root = default_data_dir(data_dir)
    looked = []
    for reader in (_read_npz, _read_torchvision_layout):
        found, where = reader(info, split, root)
        looked.append(where)
        if found is not None:
            return _to_imageset(info, split, *found, source=where)
    if download:
        try:
            download_dataset(name, root)
            found, where = _read_torchvision_layout(info, split, root)
            if found is not None:
                return _to_imageset(info, split, *found, source=f"{where} (downloaded)")
        except Exception as err:  # no network, a server down, a full disk ...
            looked.append(f"torchvision download into {root} (failed: {type(err).__name__}: {err})")
    else:
        looked.append("torchvision download (switched off)")
    raise DataNotFoundError(
        f"dataset {name!r} not found. Looked in: " + "; ".join(looked) + ". "
        f"Fix: put {info.npz_file} (Keras layout) or torchvision's {info.torchvision_folder}/ "
        f"folder in a data dir and pass --data-dir DIR or set {DATA_ENV}=DIR, "
        "or allow the download on a machine with network access."
    )


def full_split_on_disk(name: str, split: str = "test", data_dir=None) -> bool:
    """Cheap check (no reading): are the files of ``name``'s split in the data dir?"""
    info = dataset_info(name)
    root = default_data_dir(data_dir)
    if (root / info.npz_file).is_file():
        return True
    if info.name == "cifar10":
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        return all((root / info.torchvision_folder / n).is_file() for n in names)
    raw = root / info.torchvision_folder / "raw"
    return all((raw / f).is_file() or (raw / f"{f}.gz").is_file() for f in _IDX_FILES[split])


def load_sample(name: str, path: str | os.PathLike | None = None) -> ImageSet:
    """The sample of ``name``'s test split shipped with the app (DataNotFoundError if absent)."""
    info = dataset_info(name)
    path = Path(path or SAMPLE_FILE)
    if not path.is_file():
        raise DataNotFoundError(f"no sample test images: {path.name} is missing (python -m vae_demo.make_sample)")
    with np.load(path, allow_pickle=False) as f:
        if f"{name}_x" not in f.files:
            raise DataNotFoundError(f"{path.name} holds no {name} images (python -m vae_demo.make_sample)")
        x, y, source = f[f"{name}_x"], f[f"{name}_y"], str(f[f"{name}_source"])
    s = _to_imageset(info, "test", x, y, source=source)
    s.sample = True
    return s


def load_test_images(name: str, data_dir=None, download: bool = False, sample_path=None) -> ImageSet:
    """The whole test split if it can be had (data dir, else download if allowed), else the shipped
    sample; DataNotFoundError only when neither exists."""
    try:
        return load_dataset(name, "test", data_dir, download)
    except DataNotFoundError as err:
        try:
            return load_sample(name, sample_path)
        except DataNotFoundError:
            raise err from None


def _to_imageset(info: DatasetInfo, split: str, x: np.ndarray, y: np.ndarray, source: str = "") -> ImageSet:
    x = np.array(x, dtype=np.uint8)  # a writable copy
    if x.ndim == 3:  # N, H, W  (grayscale)
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):  # N, H, W, C
        x = x.transpose(0, 3, 1, 2)
    if tuple(x.shape[1:]) != info.image_shape:
        raise ValueError(
            f"{info.name} {split}: images have shape {tuple(x.shape[1:])}, expected {info.image_shape}"
        )
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if len(y) != len(x):
        raise ValueError(f"{info.name} {split}: {len(x)} images but {len(y)} labels")
    return ImageSet(
        info.name, split, torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y),
        info.class_names, source=source,
    )


# --- readers: each returns ((x, y) or None, a description of where it looked) ---------------------

def _read_npz(info: DatasetInfo, split: str, root: Path):
    path = root / info.npz_file
    if not path.is_file():
        return None, f"{path} (absent)"
    with np.load(path, allow_pickle=False) as f:
        return (f[f"x_{split}"], f[f"y_{split}"]), str(path)


def _read_torchvision_layout(info: DatasetInfo, split: str, root: Path):
    if info.name == "cifar10":
        return _read_cifar_batches(root / info.torchvision_folder, split)
    return _read_idx_folder(root / info.torchvision_folder / "raw", split)


_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _open_maybe_gz(path: Path) -> bytes | None:
    if path.is_file():
        return path.read_bytes()
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        return gzip.decompress(gz.read_bytes())
    return None


def read_idx(raw: bytes) -> np.ndarray:
    """Parse an IDX file (the MNIST format): magic, dims, then uint8 data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError("not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"IDX file is truncated: {data.size} bytes for shape {dims}")
    return data.reshape(dims)


def write_idx(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.tobytes()


def _read_idx_folder(raw_dir: Path, split: str):
    img_name, lbl_name = _IDX_FILES[split]
    images = _open_maybe_gz(raw_dir / img_name)
    labels = _open_maybe_gz(raw_dir / lbl_name)
    if images is None or labels is None:
        return None, f"{raw_dir}/{img_name}[.gz] (absent)"
    return (read_idx(images), read_idx(labels)), str(raw_dir)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10's python batches are pickles: allow numpy arrays and plain types, nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _NumpyOnlyUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
    return data, labels


def _read_cifar_batches(folder: Path, split: str):
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    paths = [folder / n for n in names]
    if not all(p.is_file() for p in paths):
        return None, f"{folder}/{names[0]} ... (absent)"
    parts = [_load_cifar_batch(p) for p in paths]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])), str(folder)


_DOWNLOAD_LOCKS = {name: threading.Lock() for name in DATASETS}


def download_dataset(name: str, data_dir=None) -> Path:
    """Download ``name`` (both splits) with torchvision into the data dir, in torchvision's own
    layout; returns the data dir. One download per dataset at a time in this process (the app's
    background download and a training job may ask together); a second caller waits, then finds the
    files. Raises whatever torchvision raises (no network, a checksum mismatch, a full disk)."""
    info = dataset_info(name)
    root = default_data_dir(data_dir)
    with _DOWNLOAD_LOCKS[info.name]:
        if not (full_split_on_disk(name, "train", root) and full_split_on_disk(name, "test", root)):
            _download(info, root)
    return root


def _download(info: DatasetInfo, root: Path) -> None:
    try:
        import torchvision.datasets as tvd
    except Exception as err:  # not installed, or a build that does not fit this torch
        raise RuntimeError(f"torchvision cannot be imported ({type(err).__name__}: {err})") from None

    root.mkdir(parents=True, exist_ok=True)
    cls = getattr(tvd, info.torchvision_class)
    for train in (True, False):
        cls(root=str(root), train=train, download=True)

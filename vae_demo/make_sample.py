"""Make the sample of test images shipped with the app: ``python -m vae_demo.make_sample``.

The first :data:`~vae_demo.data.SAMPLE_SIZE` test images of each dataset, in the official order (so
image #i of the sample is image #i of the full split), with their labels, in one compressed npz file
(:data:`~vae_demo.data.SAMPLE_FILE`: uint8 arrays and strings, no pickles). For each dataset the
exact official files are used where they are in the data dir (torchvision's layout: the IDX files,
CIFAR-10's python batches); otherwise the Keras-layout npz. Each dataset's entry says where its
images came from and how exact they are: copies this project knows (by SHA-256) are described as
their provenance notes describe them, e.g. the CIFAR-10 npz rebuilt from JPEG files.

Running it again on the same files writes the same arrays.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

from vae_demo.data import (
    DATASETS,
    POOL_FILE,
    POOL_SIZE,
    SAMPLE_FILE,
    SAMPLE_SIZE,
    _read_npz,
    _read_torchvision_layout,
    dataset_info,
    default_data_dir,
    load_dataset,
)
from vae_demo.files import atomic_write

# Copies whose provenance is documented (their README), by the SHA-256 of the npz file.
KNOWN_COPIES = {
    "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64":
        "exact: byte-identical to the official MNIST test files",
    "deaa9a65dd352e6cd6d636d75989887094e8a971b90a4078918d697493e10b3c":
        "near-exact: rebuilt from a grey-level-remapped copy, pixels within 2/255 of the official "
        "Fashion-MNIST files (87% exact)",
    "2d272e8812ecd24d1ae79a1796702033f14117b252d024dbbbdc74567d6c45f4":
        "JPEG-derived: decoded from quality-75 JPEG files, not pixel-exact CIFAR-10 (mean error about "
        "5.8/255); rebuild the sample from the official python batches where they are available",
}
OFFICIAL = "exact: the official files"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def take(name: str, data_dir, n: int = SAMPLE_SIZE) -> tuple[np.ndarray, np.ndarray, str]:
    """(images as stored in the Keras layout, labels, provenance text) of the first ``n`` test images."""
    info = dataset_info(name)
    root = default_data_dir(data_dir)
    found, _ = _read_torchvision_layout(info, "test", root)  # the exact official files first
    if found is not None:
        fidelity, origin = OFFICIAL, f"torchvision's {info.torchvision_folder} files"
    else:
        found, where = _read_npz(info, "test", root)
        if found is None:
            raise FileNotFoundError(f"{name}: neither {info.torchvision_folder}/ nor {info.npz_file} in {root}")
        digest = _sha256(Path(where))
        fidelity = KNOWN_COPIES.get(digest, "as read; this copy's fidelity is not documented here")
        origin = f"{info.npz_file} (sha256 {digest[:16]}…)"
    x, y = np.asarray(found[0]), np.asarray(found[1]).reshape(-1)
    if len(x) < n:
        raise ValueError(f"{name}: only {len(x)} test images, {n} wanted")
    x = x[:n]
    if x.ndim == 4 and x.shape[1] == 3:  # torchvision's CIFAR batches are N, C, H, W: store N, H, W, C
        x = x.transpose(0, 2, 3, 1)
    source = f"{name} test images 0-{n - 1} in the official order, from {origin}; {fidelity}"
    return np.ascontiguousarray(x, dtype=np.uint8), y[:n].astype(np.uint8), source


def build(data_dir=None, out: Path = SAMPLE_FILE, n: int = SAMPLE_SIZE, datasets=tuple(DATASETS)) -> dict:
    arrays: dict[str, np.ndarray] = {"format_version": np.array(1)}
    for name in datasets:
        x, y, source = take(name, data_dir, n)
        arrays.update({f"{name}_x": x, f"{name}_y": y, f"{name}_source": np.array(source)})
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write((Path(out), buf.getvalue()))
    return arrays


def make_pool(data_dir=None, out=POOL_FILE, n: int = POOL_SIZE, datasets=("mnist",)) -> dict:
    """Write the pool of training images shipped with the app: the first ``n`` of each dataset's training
    split, in the official order, as stored in the data dir (uint8, compressed npz, no pickles). The same
    files give the same arrays."""
    arrays: dict[str, np.ndarray] = {"format_version": np.array(1)}
    for name in datasets:
        train = load_dataset(name, "train", data_dir, download=False)
        if len(train) < n:
            raise ValueError(f"{name}: only {len(train)} training images, {n} wanted")
        x = train.images[:n].numpy()
        x = x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)  # the npz files' layout
        where = Path(str(train.source).split(" (")[0])
        digest = ""
        if where.is_file():
            digest = f" (sha256 {hashlib.sha256(where.read_bytes()).hexdigest()[:16]}…)"
        arrays[f"{name}_x"] = np.ascontiguousarray(x, dtype=np.uint8)
        arrays[f"{name}_source"] = np.array(f"{name} training images 0-{n - 1} in the official order, from "
                                            f"{where.name}{digest}")
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write((Path(out), buf.getvalue()))
    return arrays


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vae_demo.make_sample", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=None, help="data dir (default: $VAE_DEMO_DATA or ./data)")
    p.add_argument("--out", type=Path, default=SAMPLE_FILE, help="the npz file to write")
    p.add_argument("-n", type=int, default=None, help=f"images per dataset (default {SAMPLE_SIZE}; with --pool "
                   f"{POOL_SIZE})")
    p.add_argument("--pool", action="store_true", help=f"write instead the training images the blurry view draws "
                   f"completions from when there is no data dir ({POOL_FILE.name})")
    args = p.parse_args(argv)
    if args.pool:
        return _write_pool(args.data_dir, args.out if args.out != SAMPLE_FILE else POOL_FILE, args.n or POOL_SIZE)
    try:
        arrays = build(args.data_dir, args.out, args.n or SAMPLE_SIZE)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name in DATASETS:
        print(f"{name}: {len(arrays[f'{name}_x'])} images; {arrays[f'{name}_source']}")
    print(f"wrote {args.out.name}: {args.out.stat().st_size / 1024:.0f} KiB")
    return 0


def _write_pool(data_dir, out: Path, n: int) -> int:
    try:
        arrays = make_pool(data_dir, out, n)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for key in arrays:
        if key.endswith("_source"):
            print(arrays[key])
    print(f"wrote {out.name}: {out.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Checkpoints: ``<dir>/<name>.safetensors`` (weights) + ``<dir>/<name>.json`` (metadata).

The JSON records the model kind and hyperparameters, dataset, image shape, corruption, the exact
command, seed, device, epochs, wall time, metrics, per-epoch history, library versions and the
SHA-256 of the weights file. Loading never unpickles: weights come from safetensors only, the
hash must match, and the tensors must fit the model the JSON describes, or :class:`CheckpointError`
says what is wrong. Writes are atomic (a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from vae_demo.files import atomic_write
from vae_demo.models import MODELS, build_model

CHECKPOINT_ENV = "VAE_DEMO_CHECKPOINTS"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
MAX_WEIGHTS_BYTES = 64 * 1024 * 1024
FORMAT_VERSION = 1
EXTRA_PREFIX = "extra."  # tensors stored beside the weights (e.g. test-set encodings)


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, tampered with, or does not fit its model."""


@dataclass
class Checkpoint:
    name: str
    model: torch.nn.Module
    meta: dict
    extras: dict[str, torch.Tensor]

    @property
    def dataset(self) -> str:
        return self.meta["dataset"]


def checkpoint_dir(path: str | os.PathLike | None = None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get(CHECKPOINT_ENV)
    return Path(env) if env else DEFAULT_DIR


def validate_name(name: str) -> str:
    """A checkpoint name: letters, digits, '_', '-', '.'; no paths, no '..'."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise CheckpointError(
            f"invalid checkpoint name {name!r}: use 1-80 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit (no folders)"
        )
    return name


def _paths(name: str, directory) -> tuple[Path, Path]:
    d = checkpoint_dir(directory).resolve()
    validate_name(name)
    w, j = d / f"{name}.safetensors", d / f"{name}.json"
    if w.parent != d or j.parent != d:  # belt and braces: stay inside the folder
        raise CheckpointError(f"checkpoint name {name!r} leaves the checkpoints folder")
    return w, j


def library_versions() -> dict:
    import platform

    import numpy
    import safetensors

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "safetensors": safetensors.__version__,
    }


def save_checkpoint(
    name: str,
    model: torch.nn.Module,
    meta: dict,
    directory=None,
    extras: dict[str, torch.Tensor] | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write weights and metadata atomically. ``meta`` is completed with model facts and the hash.
    ``dtype`` (e.g. torch.float16): store floating-point tensors in it; loading casts them back to fp32."""
    w_path, j_path = _paths(name, directory)

    def stored(v: torch.Tensor) -> torch.Tensor:
        v = v.detach().to("cpu")
        return (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous()

    tensors = {k: stored(v) for k, v in model.state_dict().items()}
    for k, v in (extras or {}).items():
        tensors[EXTRA_PREFIX + k] = stored(v)
    blob = st_save(tensors, metadata={"format": "vae_demo", "name": name})
    full = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "model": model.kind,
        "latent_dim": model.latent_dim,
        "image_shape": list(model.image_shape),
        "hparams": model.hparams(),
        **meta,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        "weights_bytes": len(blob),
    }
    atomic_write((w_path, blob), (j_path, _meta_bytes(full)))
    return w_path


def _meta_bytes(meta: dict) -> bytes:
    return (json.dumps(meta, indent=2, default=_json_default) + "\n").encode()


def _json_default(o):
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot store {type(o).__name__} in checkpoint metadata")


def read_meta(name: str, directory=None) -> dict:
    _, j_path = _paths(name, directory)
    if not j_path.is_file():
        raise CheckpointError(f"no checkpoint named {name!r} in {j_path.parent}")
    try:
        meta = json.loads(j_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{j_path.name}: metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{j_path.name}: metadata must be a JSON object")
    for key in ("model", "latent_dim", "image_shape", "dataset", "weights_sha256"):
        if key not in meta:
            raise CheckpointError(f"{j_path.name}: metadata lacks {key!r}")
    if meta["model"] not in MODELS:
        raise CheckpointError(f"{j_path.name}: unknown model kind {meta['model']!r}")
    return meta


def update_meta(name: str, directory=None, **fields) -> dict:
    """Set top-level metadata fields of an existing checkpoint (e.g. its benchmark numbers), atomically.
    The weights and their hash are left alone."""
    meta = read_meta(name, directory)  # checks the name too
    meta.update(fields)
    atomic_write((_paths(name, directory)[1], _meta_bytes(meta)))
    return meta


def load_checkpoint(name: str, directory=None, device="cpu") -> Checkpoint:
    """Load a checkpoint by name; raises :class:`CheckpointError` with a clear reason."""
    w_path, j_path = _paths(name, directory)
    meta = read_meta(name, directory)
    if not w_path.is_file():
        raise CheckpointError(f"{w_path.name} is missing (its metadata {j_path.name} is there)")
    size = w_path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{w_path.name} is {size} bytes, over the {MAX_WEIGHTS_BYTES} limit")
    blob = w_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta["weights_sha256"]:
        raise CheckpointError(
            f"{w_path.name} does not match the SHA-256 in {j_path.name}: truncated, "
            "corrupt or changed by hand"
        )
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError, OSError) as err:
        raise CheckpointError(f"{w_path.name} is not a readable safetensors file ({err})") from None
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}  # fp16-stored: fp32
    extras = {k[len(EXTRA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    state = {k: v for k, v in tensors.items() if not k.startswith(EXTRA_PREFIX)}
    try:
        model = build_model(meta["model"], meta["image_shape"], meta["latent_dim"], **meta.get("hparams", {}))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:300]
        raise CheckpointError(f"{name}: weights do not fit the model its metadata describes ({first})") from None
    model.to(device).eval()
    return Checkpoint(name, model, meta, extras)


def list_checkpoints(directory=None, dataset: str | None = None) -> list[dict]:
    """Metadata of every checkpoint in the folder (optionally one dataset's), sorted by name.

    Files whose metadata cannot be read are left out; :func:`scan_checkpoints` reports them.
    """
    good, _ = scan_checkpoints(directory)
    return [m for m in good if dataset is None or m.get("dataset") == dataset]


def scan_checkpoints(directory=None) -> tuple[list[dict], list[str]]:
    """(metadata of readable checkpoints, warnings naming each unreadable file)."""
    d = checkpoint_dir(directory)
    good, warnings = [], []
    if not d.is_dir():
        return good, warnings
    for j in sorted(d.glob("*.json")):
        name = j.stem
        try:
            meta = read_meta(name, d)
            if not (d / f"{name}.safetensors").is_file():
                raise CheckpointError(f"{name}.safetensors is missing")
            good.append(meta)
        except CheckpointError as err:
            warnings.append(f"skipped checkpoint {j.name}: {err}")
    return good, warnings


def delete_checkpoint(name: str, directory=None) -> None:
    for p in _paths(name, directory):
        p.unlink(missing_ok=True)

"""The model registry: every checkpoint in the checkpoints folder, loaded once, shared by all tabs.

Two folders: the project's checkpoints (``$VAE_DEMO_CHECKPOINTS``, default ``./checkpoints``), only
read, and the user's own (``$VAE_DEMO_USER_CHECKPOINTS``, default a per-user folder outside the
repository, see :func:`user_checkpoint_dir`), where models trained in the app go; those are
marked ``yours``.

``refresh()`` rescans the folders (after a training job, or when someone presses "refresh"):
new or changed checkpoints are loaded, vanished ones dropped, unchanged ones kept as they are.
A checkpoint that cannot be loaded (bad JSON, missing or tampered weights, weights that do not fit)
is skipped with a warning naming its file; the others keep serving. Nothing depends on particular
checkpoint names: pickers list whatever fits the dataset.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vae_demo.checkpoints import Checkpoint, CheckpointError, checkpoint_dir, load_checkpoint
from vae_demo.corruptions import parse_spec
from vae_demo.language import _
from vae_demo.services.errors import UserInputError

log = logging.getLogger(__name__)

USER_CHECKPOINT_ENV = "VAE_DEMO_USER_CHECKPOINTS"


def user_checkpoint_dir(path=None) -> Path:
    """Where models trained in the app go: the argument, else ``$VAE_DEMO_USER_CHECKPOINTS``, else
    ``vae_demo/checkpoints`` in the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``) — never
    inside the repository, whose checkpoints/ holds the committed models only."""
    if path:
        return Path(path)
    if os.environ.get(USER_CHECKPOINT_ENV):
        return Path(os.environ[USER_CHECKPOINT_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "vae_demo" / "checkpoints"


@dataclass
class ModelEntry:
    """One loaded checkpoint plus lazily computed, cached facts about its latent space."""

    name: str
    ckpt: Checkpoint
    stamp: tuple  # (mtime_ns, size) of its two files: a change means reload
    yours: bool = False  # trained in the app (the user's folder), not one of the project's checkpoints
    cache: dict = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def model(self) -> torch.nn.Module:
        return self.ckpt.model

    @property
    def meta(self) -> dict:
        return self.ckpt.meta

    @property
    def dataset(self) -> str:
        return self.ckpt.meta["dataset"]

    @property
    def kind(self) -> str:
        return self.ckpt.meta["model"]

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    @property
    def has_latent_code(self) -> bool:
        """A vector z the latent tabs can drive (False for the U-Net restorer: feature maps only)."""
        return bool(self.model.has_latent_code)

    def require_latent_code(self) -> None:
        """UserInputError unless this model has a vector z (the latent tabs' one check)."""
        if not self.has_latent_code:
            raise UserInputError(_("model {name} has no latent code to explore (a U-Net passes feature maps "
                                   "through skip connections): use it in Corrupt & restore, pick another model here",
                                   name=self.name))

    @property
    def code_length(self) -> int:
        """What ``embed`` gives and ``decode`` takes: the latent dims, then a conditional model's class weights."""
        return int(self.model.code_length)

    @property
    def is_conditional(self) -> bool:
        """Told the class (a cVAE): its code ends with the class, set by a picker, not a slider."""
        return bool(self.model.num_classes)

    @property
    def is_vae(self) -> bool:
        return bool(self.model.generative)

    @property
    def beta(self) -> float | None:
        """A VAE's KL weight (1: the ELBO); None for a model with no KL term."""
        return float(self.model.beta) if self.is_vae else None

    @property
    def is_plain_vae(self) -> bool:
        """The textbook VAE: β = 1, trained on clean images (what the latent and Inside views prefer)."""
        return self.is_vae and self.beta == 1.0 and not self.is_restorer and not self.is_conditional

    @property
    def is_pca(self) -> bool:
        """Its code is nested (PCA): the first d dims are its best d-dim code, so it can be truncated to any d."""
        return bool(self.model.nested_code)

    @property
    def corruption(self) -> str:
        try:
            return str(parse_spec(self.meta.get("corruption", "none")))
        except ValueError:
            return "none"

    @property
    def is_restorer(self) -> bool:
        """Trained to undo corruptions ('mix' or a fixed one): a blind restorer."""
        return self.corruption != "none"

    @property
    def role(self) -> str:
        """What it is, in a word or two: restorer (its corruption), PCA, VAE or autoencoder."""
        if self.is_restorer:
            return _("restorer ({corruption})", corruption=self.corruption)
        return _(self.model.family) if self.model.family else self.kind

    @property
    def short_label(self) -> str:
        """Name and role, short enough for a chip in a picker."""
        return f"{self.name} — {self.role}" + (_(" (yours)") if self.yours else "")

    @property
    def label(self) -> str:
        """Dropdown text: name and what it is."""
        desc = _(self.model.description) if self.model.description else self.kind
        extra = _(", restorer trained on {corruption}", corruption=self.corruption) if self.is_restorer else ""
        if self.model.mask_input:
            extra += _(", told the damage mask when 'mask-aware' is on")
        if self.is_vae and self.beta != 1.0:
            extra += f", β={self.beta:g}"
        size = ""
        if self.has_latent_code and self.model.discrete:  # its code is a grid of indices, not z numbers
            h, w = self.model.code_grid
            size = _(", {h}×{w} codes of K={k}", h=h, w=w, k=self.model.codebook_size)
        elif self.has_latent_code:
            size = f", z={self.latent_dim}"
        return f"{self.name} — {desc}{size}{extra}" + (_(" (yours)") if self.yours else "")


class ModelRegistry:
    """Thread-safe cache of loaded checkpoints from the project's folder (default: ``$VAE_DEMO_CHECKPOINTS``)
    and the user's (:func:`user_checkpoint_dir`)."""

    def __init__(self, directory=None, device: str = "cpu", user_directory=None):
        self.directory = Path(checkpoint_dir(directory))
        self.user_directory = user_checkpoint_dir(user_directory)
        self.device = device
        self._lock = threading.RLock()
        self._entries: dict[str, ModelEntry] = {}
        self.warnings: list[str] = []
        self.version = 0  # bumped whenever the set of models changes
        self.refresh()

    @staticmethod
    def _stamp(folder: Path, name: str) -> tuple:
        out = []
        for suffix in (".json", ".safetensors"):
            st = (folder / f"{name}{suffix}").stat()
            out += [st.st_mtime_ns, st.st_size]
        return tuple(out)

    def _stems(self, warnings: list[str]) -> list[tuple[str, Path, bool]]:
        """(name, folder, yours) of every checkpoint JSON; a name in both folders is the project's."""
        out, seen = [], set()
        folders = [(self.directory, False)]
        if self.user_directory.resolve() != self.directory.resolve():
            folders.append((self.user_directory, True))
        for folder, yours in folders:
            for stem in sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []:
                if stem in seen:
                    warnings.append(f"skipped checkpoint {folder / stem}.json: the project has one of that name")
                    continue
                seen.add(stem)
                out.append((stem, folder, yours))
        return out

    def refresh(self) -> list[str]:
        """Rescan the folders; returns the warnings (one per skipped file)."""
        with self._lock:
            warnings: list[str] = []
            seen = set()
            changed = False
            for stem, folder, yours in self._stems(warnings):
                seen.add(stem)
                try:
                    stamp = self._stamp(folder, stem)
                except OSError:
                    warnings.append(f"skipped checkpoint {stem}.json: {stem}.safetensors is missing")
                    stamp = None
                old = self._entries.get(stem)
                if stamp is not None and old is not None and old.stamp == stamp:
                    continue
                if old is not None:
                    del self._entries[stem]
                    changed = True
                if stamp is None:
                    continue
                try:
                    ckpt = load_checkpoint(stem, folder, device=self.device)
                except (CheckpointError, OSError, RuntimeError, ValueError, KeyError) as err:
                    warnings.append(f"skipped checkpoint {stem}.safetensors: {err}")
                    continue
                self._entries[stem] = ModelEntry(stem, ckpt, stamp, yours=yours)
                changed = True
            for gone in set(self._entries) - seen:
                del self._entries[gone]
                changed = True
            self.warnings = warnings
            for w in warnings:
                log.warning(w)
            if changed:
                self.version += 1
            return list(warnings)

    def entries(self, dataset: str | None = None, latent_code: bool = False) -> list[ModelEntry]:
        """Loaded models (for one dataset; with ``latent_code`` only those with a vector z),
        restorers first, then VAEs, AEs, PCA; by name within."""
        with self._lock:
            out = [e for e in self._entries.values() if (dataset is None or e.dataset == dataset)
                   and (e.has_latent_code or not latent_code)]

        def rank(e: ModelEntry):
            return (0 if e.is_restorer else 1 if e.is_vae else 3 if e.is_pca else 2, e.name)

        return sorted(out, key=rank)

    def names(self, dataset: str | None = None, latent_code: bool = False) -> list[str]:
        return [e.name for e in self.entries(dataset, latent_code)]

    def get(self, name: str, dataset: str | None = None, latent_code: bool = False) -> ModelEntry:
        """The model called ``name``; UserInputError if unknown, from another dataset, or (with
        ``latent_code``) without a vector z to explore."""
        with self._lock:
            entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is None:
            if not name:
                raise UserInputError(_("no model chosen (none is available for {dataset})", dataset=dataset)
                                     if dataset and not self.names(dataset) else _("no model chosen"))
            raise UserInputError(_("unknown model {name}: press ↻ to rescan the checkpoints", name=repr(str(name)[:40])))
        if dataset is not None and entry.dataset != dataset:
            raise UserInputError(_("model {name} was trained on {trained}, not {dataset}", name=name,
                                   trained=entry.dataset, dataset=dataset))
        if latent_code:
            entry.require_latent_code()
        return entry

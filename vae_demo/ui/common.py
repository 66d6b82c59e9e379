"""What every tab shares: the services, the dataset picker, the "models changed" signal, and a
wrapper that turns bad input into a one-line warning instead of a traceback."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
import torch

from vae_demo.data import dataset_info
from vae_demo.services import interactive_threads
from vae_demo.services.images import UserInputError
from vae_demo.services.jobs import JobManager
from vae_demo.services.registry import ModelRegistry
from vae_demo.services.testdata import TestImages, check_dataset

log = logging.getLogger(__name__)

LATEX = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]


@dataclass
class Context:
    registry: ModelRegistry
    images: TestImages
    jobs: JobManager
    dataset: gr.Radio | None = None  # the shared dataset picker
    models_version: gr.State | None = None  # the registry version this page last saw
    data_version: gr.State | None = None  # the test images' version this page last saw (a download came in)
    current: gr.State | None = None  # the image picked in "Corrupt & restore" (numpy (1, C, H, W))
    load_events: list = field(default_factory=list)  # (fn, inputs, outputs[, options]) run at page load

    def model_triggers(self):
        """Events after which a tab must re-list its models."""
        return [self.dataset.change, self.models_version.change]

    def model_dropdown_update(self, dataset: str, current: str | None = None, prefer_2d: bool = False):
        """Choices for a model picker; keeps ``current`` if it still fits, else picks a VAE
        (the most instructive for the latent tabs; with ``prefer_2d`` a 2-D one), else the first model."""
        check_dataset(dataset)
        entries = self.registry.entries(dataset, latent_code=True)
        choices = [(e.label, e.name) for e in entries]
        names = [n for _, n in choices]
        vaes = sorted((e for e in entries if e.is_vae and not e.is_restorer),  # a plain β = 1 VAE first
                      key=lambda e: (not (prefer_2d and e.latent_dim == 2), e.yours,
                                     e.meta.get("hparams", {}).get("beta", 1.0) != 1.0, e.name))
        value = current if current in names else (vaes[0].name if vaes else names[0] if names else None)
        info = None if names else f"no model with a latent code for {dataset} yet: train one in the Train tab"
        return gr.update(choices=choices, value=value, info=info)


def explain(text: str) -> gr.Markdown:
    return gr.Markdown(text, latex_delimiters=LATEX, elem_classes=["explain"])


def safe(n_outputs: int):
    """Decorator for handlers: UserInputError → gr.Warning(message) and no output changes; any other
    error → logged with its traceback, a short warning in the UI, no output changes."""

    def deco(fn):
        def skip():
            return gr.skip() if n_outputs == 1 else tuple(gr.skip() for _ in range(n_outputs))

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            interactive_threads()
            try:
                return fn(*args, **kwargs)
            except UserInputError as err:
                gr.Warning(str(err))
                return skip()
            except Exception as err:
                log.exception("handler %s failed", fn.__name__)
                gr.Warning(f"Something went wrong ({type(err).__name__}: {str(err)[:200]}); the rest of the app still works.")
                return skip()

        return wrapper

    return deco


def image_shape(dataset: str) -> tuple[int, int, int]:
    return dataset_info(check_dataset(dataset)).image_shape


def as_tensor(x, dataset: str) -> torch.Tensor:
    """The shared current image (numpy) → a (1, C, H, W) tensor that fits ``dataset``'s models."""
    if x is None:
        raise UserInputError("pick, upload or draw an image first")
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.ndim != 4 or tuple(t.shape[1:]) != image_shape(dataset):
        raise UserInputError(f"the current image does not fit {dataset}: pick or upload one again")
    return t


def default_dataset(registry: ModelRegistry, images: TestImages) -> str:
    from vae_demo.data import DATASETS

    for name in DATASETS:
        if registry.names(name) and images.has_images(name):
            return name
    for name in DATASETS:
        if registry.names(name) or images.has_images(name):
            return name
    return next(iter(DATASETS))

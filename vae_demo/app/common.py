"""What every tab shares: the services, the dataset picker, the "models changed" signal, a wrapper
that turns bad input into a one-line warning instead of a traceback, and the Blocks that check every
raw input value (with :mod:`vae_demo.services.inputs`) before Gradio converts it."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field

import gradio as gr
import numpy as np
import torch
from gradio.context import LocalContext
from gradio.utils import get_upload_folder, is_in_or_equal

from vae_demo import language
from vae_demo.data import dataset_info
from vae_demo.language import _
from vae_demo.services import inputs, interactive_threads
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import MAX_DRAWING_PIXELS, check_image_size
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
    start_dataset: str = "mnist"  # the dataset the page opens with
    banner: gr.Markdown | None = None  # the offline banner (sample images only)
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
        names = [n for _label, n in choices]
        vaes = sorted((e for e in entries if e.is_vae and not e.is_restorer),  # a plain β = 1 VAE first
                      key=lambda e: (not (prefer_2d and e.latent_dim == 2), e.yours, not e.is_plain_vae, e.name))
        value = current if current in names else (vaes[0].name if vaes else names[0] if names else None)
        info = None if names else _("no model with a latent code for {dataset} yet: train one in the Train tab",
                                    dataset=dataset)
        return gr.update(choices=choices, value=value, info=info)


def slider_moves(slider: gr.Slider) -> list:
    """Every way a visitor changes a slider, as event triggers: a drag or a number typed in its box (Gradio's
    ``input``) and its ↺ button. In Gradio 6.31 the ↺ sets the value the slider was built with and dispatches
    ``change`` and ``release``, never ``input``, so a tab listening to ``input`` alone kept its old picture.
    (``release`` also ends each drag: one more call, with the final value.) ``change`` is not used: it also
    fires when a handler sets the slider, which would run the handler twice."""
    return [slider.input, slider.release]


def explain(text: str) -> gr.Markdown:
    return gr.Markdown(text, latex_delimiters=LATEX, elem_classes=["explain"])


def _direct_call() -> bool:
    """Is this handler serving a queue-less request (``/gradio_api/run/…``)? There a warning reaches
    no one (it is sent along the queue's event stream), so the message must be the call's error."""
    return LocalContext.blocks.get(None) is not None and LocalContext.event_id.get(None) is None


def safe(fn):
    """Decorator for handlers: UserInputError → gr.Warning(message) and no output changes; any other
    error → logged with its traceback, a short warning in the UI, no output changes. Messages are one
    line. A queue-less call (which cannot carry a warning) gets the message as its error instead."""

    def report(message: str):
        message = inputs.one_line(message)
        if _direct_call():
            raise gr.Error(message, print_exception=False)
        gr.Warning(message)
        return gr.skip()  # one skip leaves every output as it was

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        interactive_threads()
        try:
            return fn(*args, **kwargs)
        except UserInputError as err:
            return report(str(err))
        except Exception as err:
            log.exception("handler %s failed", fn.__name__)
            return report(_("Something went wrong ({error}); the rest of the app still works.",
                            error=f"{type(err).__name__}: {str(err)[:80]}"))

    return wrapper


def keep_in_page(name: str, clear: str | None = None) -> str:
    """The js of a tab's ``web.change``: keep its page copy (webdecode.page_*) as ``window[name]`` for the
    page's own decoding (``vaeDemo.keep`` in vae_demo/web/page.js)."""
    return f"(w) => window.vaeDemo.keep({name!r}, w, {clear!r})" if clear else f"(w) => window.vaeDemo.keep({name!r}, w)"


# --- every raw input value is checked before Gradio converts it ------------------------------------

def input_name(block) -> str:
    """How a message names an input: its label without the parenthesised part, or what it is."""
    if isinstance(block, gr.ImageEditor):
        return _("the drawing")
    if isinstance(block, (gr.UploadButton, gr.File)):
        return _("the upload")
    label = getattr(block, "label", None)
    if isinstance(label, str) and label.strip():
        return language.translate(label).split(" (")[0].strip()
    return block.get_block_name()


def check_raw_input(block, value) -> None:
    """UserInputError (one line) when ``value`` cannot be what ``block`` (the session's copy, with its
    current choices and range) takes. The checks themselves are :mod:`vae_demo.services.inputs`."""
    name = input_name(block)
    if isinstance(block, gr.ImageEditor):  # the drawing canvas: every image it holds, before Gradio decodes it
        for image in _editor_images(block, value):
            check_image_size(image, MAX_DRAWING_PIXELS)
    elif isinstance(block, gr.Slider):
        inputs.number(value, name, whole=block.precision == 0, lo=block.minimum, hi=block.maximum)
    elif isinstance(block, gr.Number):
        inputs.number(value, name, whole=block.precision == 0, lo=block.minimum, hi=block.maximum, optional=True)
    elif value is None:
        return
    elif isinstance(block, gr.Checkbox):
        inputs.flag(value, name)
    elif isinstance(block, gr.Radio):
        inputs.choice(value, name.lower(), [v for _label, v in block.choices])
    elif isinstance(block, gr.Dropdown) and not block.multiselect:
        if block.allow_custom_value:
            inputs.text(value, name.lower())
        else:
            inputs.choice(value, name.lower(), [v for _label, v in block.choices])


def _editor_images(block, value) -> list:
    """The images of a gr.ImageEditor / gr.Sketchpad value as Gradio would decode them: the blobs the page
    sent beforehand (bytes, by the value's id) or uploaded files (paths; others are refused by Gradio).
    A 100 kB PNG can claim 10000×10000 pixels: over a gigabyte once decoded and converted."""
    if not isinstance(value, dict):
        return []
    blob_id = value.get("id")
    if isinstance(blob_id, str) and blob_id in block.blob_storage:
        blobs = block.blob_storage[blob_id]
        images = [blobs.background, *blobs.layers, blobs.composite]
    else:
        layers = value.get("layers")
        files = [value.get("background"), *(layers if isinstance(layers, list) else []), value.get("composite")]
        images = [f["path"] for f in files if isinstance(f, dict) and isinstance(f.get("path"), str)
                  and is_in_or_equal(f["path"], get_upload_folder())]
    return [x for x in images if x is not None]


class CheckedBlocks(gr.Blocks):
    """gr.Blocks whose events check every raw input value (:func:`check_raw_input`) before Gradio
    converts it, and turn whatever Gradio's conversion still refuses (too few values, a file that was
    never uploaded, a value of the wrong shape) into a one-line message. Without this, such calls get
    an error with no message at all (``{"error": null}``; a bare "Error" in the page).

    Events made with ``preprocess=False`` get their values as sent: their handlers' services check them."""

    def validate_inputs(self, block_fn, inputs_):
        if len(inputs_) < len(block_fn.inputs):
            names = [_("null (a session state)") if b.stateful else input_name(b) for b in block_fn.inputs]
            raise gr.Error(inputs.arity(len(inputs_), len(block_fn.inputs), names), print_exception=False)

    async def process_api(self, *args, **kwargs):
        """Every call runs in its visitor's language (:func:`vae_demo.language.of_request`): the handler, the
        services under it and the input checks' messages all read it."""
        request = kwargs.get("request", args[3] if len(args) > 3 else None)
        request = request[0] if isinstance(request, list) and request else request
        code = language.SOURCE
        if request is not None:
            code = language.of_request(request.headers, dict(request.query_params))
        with language.use(code):
            return await self._process_api(*args, **kwargs)

    async def _process_api(self, *args, **kwargs):
        try:
            return await super().process_api(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as err:  # anything else would reach the caller as an error without a message
            log.exception("request failed outside its handler")
            raise gr.Error(inputs.one_line(f"Something went wrong ({type(err).__name__}); the rest of the app "
                                           "still works."), print_exception=False) from None

    async def preprocess_data(self, block_fn, inputs_, state, explicit_call: bool = False):
        self.validate_inputs(block_fn, inputs_)
        try:
            if block_fn.preprocess:
                for block, value in zip(block_fn.inputs, inputs_):
                    if not block.stateful:
                        check_raw_input(state[block._id] if state is not None and block._id in state else block,
                                        value)
            return await super().preprocess_data(block_fn, inputs_, state, explicit_call)
        except UserInputError as err:
            raise gr.Error(inputs.one_line(err), print_exception=False) from None
        except gr.Error as err:
            raise gr.Error(inputs.one_line(err.message), print_exception=False) from None
        except Exception as err:
            raise gr.Error(_unreadable(block_fn, inputs_, err), print_exception=False) from None


def _unreadable(block_fn, values, err: Exception) -> str:
    """The message for a value Gradio could not convert: which input, and why."""
    cause = err.__cause__
    if isinstance(cause, UserInputError):  # a service check inside a component's conversion
        return inputs.one_line(cause)
    m = re.search(r"at index (\d+)", str(err))
    if m and int(m.group(1)) < len(block_fn.inputs):
        return inputs.unreadable(input_name(block_fn.inputs[int(m.group(1))]), cause or err)  # (its own language)
    # a file check or a value of the wrong shape: name the first input with a file-like value
    for block, value in zip(block_fn.inputs, values):
        if not block.stateful and getattr(block, "data_model", None) is not None and value is not None:
            return inputs.unreadable(input_name(block), err)
    return inputs.unreadable(_("an input"), err)


def image_shape(dataset: str) -> tuple[int, int, int]:
    return dataset_info(check_dataset(dataset)).image_shape


def as_tensor(x, dataset: str) -> torch.Tensor:
    """The shared current image (numpy) → a (1, C, H, W) tensor that fits ``dataset``'s models."""
    if x is None:
        raise UserInputError(_("pick, upload or draw an image first"))
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.ndim != 4 or tuple(t.shape[1:]) != image_shape(dataset):
        raise UserInputError(_("the current image does not fit {dataset}: pick or upload one again", dataset=dataset))
    return t


def test_image(ctx: Context, dataset: str, index) -> torch.Tensor:
    """Test image #index of ``dataset`` (1, C, H, W), the index clamped to the split."""
    s = ctx.images.get(dataset)
    if s is None or not len(s):
        raise UserInputError(_("no test images of {dataset} here: pick, upload or draw one in Corrupt & restore",
                               dataset=dataset))
    i = int(min(max(int(np.nan_to_num(float(index or 0))), 0), len(s) - 1))
    return s.floats(slice(i, i + 1))


def default_dataset(registry: ModelRegistry, images: TestImages) -> str:
    from vae_demo.data import DATASETS

    for name in DATASETS:
        if registry.names(name) and images.has_images(name):
            return name
    for name in DATASETS:
        if registry.names(name) or images.has_images(name):
            return name
    return next(iter(DATASETS))

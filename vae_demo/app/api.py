"""Calls for API users that no single button makes: a test image's code, and a code's image, as plain numbers
(``gradio_client``: ``client.predict("mnist", "mnist_conv_vae_z16", 0, api_name="/encode")``). The tabs' own
public calls (restore, interpolate, train, ...) are declared where they are wired."""

from __future__ import annotations

import functools
import logging
import math

import gradio as gr
import torch

from vae_demo.app.common import Context
from vae_demo.language import _
from vae_demo.services import interactive_threads, latent
from vae_demo.services.errors import UserInputError
from vae_demo.services.inputs import number, one_line

log = logging.getLogger(__name__)


def answers(fn):
    """An API call's errors as its error message (one line): it has no page to show a warning in."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        interactive_threads()
        try:
            return fn(*args, **kwargs)
        except UserInputError as err:
            raise gr.Error(one_line(err), print_exception=False) from None
        except Exception as err:
            log.exception("API call %s failed", fn.__name__)
            raise gr.Error(one_line(f"Something went wrong ({type(err).__name__}); the rest of the app still works."),
                           print_exception=False) from None

    return call


def register(ctx: Context) -> None:
    """Inside the Blocks: the API-only endpoints."""

    @answers
    def encode(dataset: str, model: str, index: int) -> list[float]:
        """Encode test image #index with a model that has a latent code: its code z (a VAE: the posterior mean)."""
        e = ctx.registry.get(model, dataset, latent_code=True)
        if e.model.discrete:
            raise UserInputError(_("{model} has a discrete code: use its code grid (set_code)", model=model))
        s = ctx.images.get(dataset)
        if s is None or not len(s):
            raise UserInputError(_("no test images of {dataset} here", dataset=dataset))
        i = int(number(index, "index", whole=True, lo=0, hi=len(s) - 1))
        with torch.no_grad():
            z = e.model.embed(s.floats(slice(i, i + 1)))
        return [float(v) for v in z.reshape(-1)]

    @answers
    def decode(dataset: str, model: str, z: list[float]) -> list:
        """Decode a code z (as long as the model's code: its latent, then a conditional model's class weights) → the image's pixels in [0, 1]: rows (grey) or rows of RGB."""
        e = ctx.registry.get(model, dataset, latent_code=True)
        if e.model.discrete:
            raise UserInputError(_("{model} has a discrete code: use its code grid (set_code)", model=model))
        if not isinstance(z, list) or len(z) != e.code_length:
            raise UserInputError(_("z must be a list of {n} numbers for {model}", n=e.code_length, model=model))
        values = [number(v, "z", lo=-1e6, hi=1e6) for v in z]
        if not all(math.isfinite(v) for v in values):
            raise UserInputError(_("z must hold finite numbers"))
        with torch.no_grad():
            x = e.model.decode(torch.tensor([values], dtype=torch.float32))[0].clamp(0, 1)
        x = x[0] if x.shape[0] == 1 else x.permute(1, 2, 0)  # (H, W) or (H, W, 3)
        return x.numpy().round(4).tolist()

    @answers
    def interpolate(dataset: str, model: str, a: int, b: int, steps: int) -> dict:
        """Test images #a → #b in N steps: the pixel blend, the linear and the spherical latent paths as strips
        (grey levels 0-255, the steps side by side) and how far apart the codes are."""
        e = ctx.registry.get(model, dataset, latent_code=True)
        n = int(number(steps, "Steps N", whole=True, lo=2, hi=24))
        xa = ctx.images.image(dataset, a)[0]
        xb = ctx.images.image(dataset, b)[0]
        rows = latent.interpolate(e, xa, xb, n)
        d = latent.path_difference(e, xa, xb, rows)
        strips = {k: latent.path_strip(rows[k], height=1).tolist() for k in ("pixel", "linear", "slerp")}
        return {**strips, **{k: round(float(v), 4) for k, v in d.items()}}

    gr.api(encode, api_name="encode", api_description="A test image's code: dataset, model, index → z (numbers).")
    gr.api(interpolate, api_name="interpolate",
           api_description="Test images #a → #b in N steps: the three paths as strips, and the codes' angle.")
    gr.api(decode, api_name="decode", api_description="A code's image: dataset, model, z → pixels in [0, 1] (rows).")

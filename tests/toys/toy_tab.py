"""A toy tab: a button that encodes the current dataset's first test image with the first model and says how
long its code is. One module, its page files beside it; one line registers it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from vae_demo.app.common import Context, safe
from vae_demo.app.registry import Tab

HERE = Path(__file__).resolve().parent


def build(ctx: Context) -> None:
    gr.Markdown("A toy tab: how long is a code?", elem_id="toy-title")
    button = gr.Button("Encode test image #0", elem_id="toy-encode")
    out = gr.Markdown("", elem_id="toy-out")
    gr.HTML('<span id="toy-script"></span>', padding=False)

    @safe
    def encode(dataset):
        entry = ctx.registry.entries(dataset, latent_code=True)[0]
        x = ctx.images.get(dataset).floats(slice(0, 1))
        z = entry.model.encode(x)
        return f"{entry.name}: a code of {z.numel()} numbers for {x.numel()} pixels"

    button.click(encode, ctx.dataset, out, api_name="toy_encode", api_description="Toy: the length of a code.")


TAB = Tab("toy", "Toy", build, css=HERE / "toy_tab.css", script=HERE / "toy_tab.js", config={"greeting": "hello"})

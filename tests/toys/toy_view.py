"""A toy view of "Inside a VAE": the number of parameters of the first model. One module, one registration line."""

from __future__ import annotations

import gradio as gr

from vae_demo.app.common import Context
from vae_demo.app.registry import Tab


def build(ctx: Context) -> None:
    out = gr.Markdown("", elem_id="toy-view-out")

    def count(dataset):
        entry = ctx.registry.entries(dataset)[0]
        return f"{entry.name} has {sum(p.numel() for p in entry.model.parameters())} parameters"

    ctx.load_events.append((count, [ctx.dataset], [out]))
    ctx.dataset.change(count, ctx.dataset, out)


VIEW = Tab("inside-toy", "Toy view", build)

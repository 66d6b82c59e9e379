"""Tab 5 — Inside a VAE: one module per view (a sub-tab), registered here in the order they are shown."""

from __future__ import annotations

import gradio as gr

from vae_demo.app.common import Context
from vae_demo.app.registry import Registry, Tab
from vae_demo.app.tabs.inside import anomaly, blurry, filters, network, pair, rate, step


def build(ctx: Context) -> None:
    with gr.Tabs(elem_id=f"{TAB.id}-views"):  # which view: in a link (registry.view_state)
        for view in VIEWS:
            with gr.Tab(view.title, id=view.id):
                view.build(ctx)


VIEWS = Registry()
VIEWS.register(step.VIEW)
VIEWS.register(pair.VIEW)
VIEWS.register(rate.VIEW)
VIEWS.register(blurry.VIEW)
VIEWS.register(filters.VIEW)
VIEWS.register(anomaly.VIEW)
VIEWS.register(network.VIEW)
TAB = Tab("inside", "Inside a VAE", build, views=VIEWS)

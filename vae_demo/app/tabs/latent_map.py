"""Tab 3 — Latent map: test-set codes as a scatter coloured by class; decode any position."""

from __future__ import annotations

import gradio as gr

from vae_demo.app.common import Context, explain, keep_in_page, safe
from vae_demo.app.figures import latent as figures
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.data import dataset_info
from vae_demo.services import codes, latent, webdecode
from vae_demo.services.errors import UserInputError

EXPLAIN = r"""
**Where the test images land.** Each dot is the code of one test image (a VAE's posterior mean
$\mu_\phi(x)$), coloured by its class. With a 2-D latent space the map *is* the space; otherwise it is a
PCA projection of the codes, and a position $(x, y)$ decodes as $z = \bar z + x\,u_1 + y\,u_2$ (mean code
plus the two principal directions). t-SNE keeps neighbourhoods better but has no inverse: a position then
decodes the code of the nearest dot. A VAE's KL term pulls the codes towards $\mathcal N(0, I)$, so its
map is compact and has few holes; a plain autoencoder's map can have gaps that decode to nonsense.
The **manifold** (right, under the crosshair's image) decodes a regular grid over the map: the model's
whole repertoire at a glance.

**A discrete code (VQ-VAE)** has no continuous space to map: its codes are the $K$ vectors of its codebook.
The map then shows the codebook itself, a PCA of the code vectors, each dot sized and coloured by how many
of the test images' cells use it; codes close together draw similar patches. A code nobody uses is
wasted capacity (codebook collapse); the bars beside it show each code's share, most used first. On the
right, a test image as its grid of codes: every cell names one dot of the map.
"""

DECODED_NOTE = "**Decoded at the crosshair**"
CODES_NOTE = "**Test image #0 as codes**: each cell names one dot of the map"


def build(ctx: Context) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                # custom values: API callers may name any model (the registry checks it, with a clear message)
                model = gr.Dropdown(label="Model", choices=[], elem_id="map-model", scale=5, min_width=300,
                                    allow_custom_value=True)  # room for the longest name: never cut
                method = gr.Radio([("auto (native 2-D, else PCA)", "auto"), ("PCA", "pca"),
                                   ("t-SNE (slow the first time)", "tsne")], value="auto", label="Projection",
                                  elem_id="map-method", scale=4)
            # the figure has its own title: no label drawn over it
            plot = gr.Plot(label="Latent map", show_label=False, elem_id="map-plot")
            info = gr.Markdown("", elem_id="map-info")
        with gr.Column(scale=2, min_width=280):
            x = gr.Slider(-3, 3, value=0, step=0.01, label="x", elem_id="map-x")
            y = gr.Slider(-3, 3, value=0, step=0.01, label="y", elem_id="map-y")
            # what the picture is, as a heading: a label drawn over it hid a code grid's top row
            decoded_note = gr.Markdown(DECODED_NOTE, elem_id="map-decoded-note")
            decoded = gr.Image(label="Decoded at the crosshair", show_label=False, type="numpy", interactive=False,
                               height=260, format="png", elem_id="map-decoded", buttons=[])
            web = gr.JSON(None, elem_id="map-web", show_label=False)  # webdecode.page_map; hidden by CSS
            server_decode = gr.Button("decode on the server", elem_id="map-server-decode")
            # no label or buttons drawn over the picture: they hid its top row
            manifold_note = gr.Markdown("**Decoded manifold over the map** (top row: largest y)", visible=False)
            manifold = gr.Image(label="Decoded manifold over the map", show_label=False, type="numpy",
                                interactive=False, format="png", elem_id="map-manifold", visible=False, buttons=[])
    explain(EXPLAIN)

    def _map(dataset, name, how):
        e = ctx.registry.get(name, dataset, latent_code=True)
        return e, latent.latent_map(e, ctx.images, how)

    def _figure(dataset, e, m, px, py):
        return figures.map_figure(m, dataset_info(dataset).class_names, (px, py),
                                 title=f"{e.name}: {len(m.xy)} test images")

    @safe
    def on_model(dataset, name, how):
        if not name:
            return None, f"No model for {dataset} yet: train one in the Train tab.", gr.update(), gr.update(), None, \
                gr.update(visible=False), gr.update(visible=False), gr.update(), None
        e = ctx.registry.get(name, dataset, latent_code=True)
        if e.model.discrete:  # the codebook is the map
            use = codes.codebook_use(e, ctx.images)
            s = ctx.images.get(dataset)
            example = None
            if s is not None and len(s):  # a test image's code: each cell is one of the dots
                x0 = s.floats(slice(0, 1))
                g = codes.image_codes(e, x0)
                example = codes.grid_view(e, codes.decode_grid(e, g), g)
            return (figures.codebook_figure(e, use), codes.use_text(e, use), gr.update(visible=False),
                    gr.update(visible=False), gr.update(value=example, label="Test image #0 as codes"),
                    gr.update(value=None, visible=False), gr.update(visible=False), gr.update(visible=False), None)
        e, m = _map(dataset, name, how)
        x0, x1, y0, y1 = m.extent
        cx, cy = round((x0 + x1) / 2, 2), round((y0 + y1) / 2, 2)
        step_x = step_y = 0.01  # round steps: the number boxes show 2 decimals, not -1.841394140625
        show_grid = m.method != "tsne"
        grid_img = latent.manifold_grid(e, m) if show_grid else None
        text = (f"{m.note}. {len(m.xy)} points, one per test image (codes {m.source}); "
                "click the map or drag x/y to move the crosshair"
                + ("; the manifold on the right decodes a 15×15 grid over this extent." if show_grid else "."))
        return (_figure(dataset, e, m, cx, cy), text,
                gr.update(minimum=round(x0, 2), maximum=round(x1, 2), value=cx, step=step_x, visible=True),
                gr.update(minimum=round(y0, 2), maximum=round(y1, 2), value=cy, step=step_y, visible=True),
                gr.update(value=latent.decode(e, m.latent_at(cx, cy)), label="Decoded at the crosshair"),
                gr.update(value=grid_img, visible=show_grid), gr.update(visible=show_grid), gr.update(visible=True),
                webdecode.page_map(e, m))

    def heading(name):
        """What the picture on the right is: a decoded position, or (a discrete code) a test image's code grid.
        Silent: a model that does not fit is reported once, by on_model."""
        try:
            e = ctx.registry.get(name)
        except UserInputError:
            return DECODED_NOTE
        return CODES_NOTE if getattr(e.model, "discrete", False) else DECODED_NOTE

    @safe
    def on_move(dataset, name, how, px, py):
        e, m = _map(dataset, name, how)
        return latent.decode(e, m.latent_at(px, py))

    @safe
    def on_release(dataset, name, how, px, py):
        e, m = _map(dataset, name, how)
        return _figure(dataset, e, m, px, py)

    def relist(dataset, current):
        return ctx.model_dropdown_update(dataset, current, prefer_2d=True)  # a native map first

    gr.on(ctx.model_triggers(), safe(relist), [ctx.dataset, model], model, show_progress="hidden")
    gr.on([model.change, method.change], on_model, [ctx.dataset, model, method],
          [plot, info, x, y, decoded, manifold, manifold_note, method, web], show_progress="minimal")
    model.change(safe(heading), model, decoded_note, show_progress="hidden", api_visibility="private")
    web.change(None, web, None, js=keep_in_page("vaeMapWeb"))  # the pointer's hover decodes with it
    server_decode.click(on_move, [ctx.dataset, model, method, x, y], decoded, show_progress="hidden",
                        trigger_mode="always_last", concurrency_limit=None)  # its API name stays on_move
    for s in (x, y):
        s.release(on_release, [ctx.dataset, model, method, x, y], plot, show_progress="hidden",
                  trigger_mode="always_last")
    ctx.load_events.append((relist, [ctx.dataset, model], [model]))


TAB = Tab("map", "Latent map", build, css=TAB_FILES / "map.css", script=TAB_FILES / "map.js")

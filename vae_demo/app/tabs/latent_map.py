"""Tab 3 — Latent map: test-set codes as a scatter coloured by class; decode any position."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from vae_demo.app.common import Context, explain, keep_in_page, safe
from vae_demo.app.figures import latent as figures
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.data import dataset_info
from vae_demo.language import N_, _
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

DECODED_NOTE = "**Decoded at the crosshair**"  # (both shown through _())
CODES_NOTE = N_("**Test image #0 as codes**: each cell names one dot of the map")


@dataclass
class MapUI:
    """The tab's components."""

    model: gr.Dropdown
    method: gr.Radio
    plot: gr.Plot
    info: gr.Markdown
    x: gr.Slider
    y: gr.Slider
    decoded_note: gr.Markdown
    decoded: gr.Image
    web: gr.JSON  # webdecode.page_map: what the page needs to decode; hidden by CSS
    server_decode: gr.Button  # what a move clicks when the page cannot decode
    manifold_note: gr.Markdown
    manifold: gr.Image


def layout() -> MapUI:
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
            plot = gr.Plot(label="Latent map", show_label=False, elem_id="map-plot", elem_classes=["vd-main"])
            info = gr.Markdown("", elem_id="map-info")
        with gr.Column(scale=2, min_width=280):
            x = gr.Slider(-3, 3, value=0, step=0.01, label="x", elem_id="map-x")
            y = gr.Slider(-3, 3, value=0, step=0.01, label="y", elem_id="map-y")
            # what the picture is, as a heading: a label drawn over it hid a code grid's top row
            decoded_note = gr.Markdown(DECODED_NOTE, elem_id="map-decoded-note")
            decoded = gr.Image(label="Decoded at the crosshair", show_label=False, type="numpy", interactive=False,
                               height=260, format="png", elem_id="map-decoded", buttons=[])
            web = gr.JSON(None, elem_id="map-web", show_label=False)
            server_decode = gr.Button("decode on the server", elem_id="map-server-decode")
            # no label or buttons drawn over the picture: they hid its top row
            manifold_note = gr.Markdown("**Decoded manifold over the map** (top row: largest y)", visible=False)
            manifold = gr.Image(label="Decoded manifold over the map", show_label=False, type="numpy",
                                interactive=False, format="png", elem_id="map-manifold", visible=False, buttons=[])
    explain(EXPLAIN)
    return MapUI(model, method, plot, info, x, y, decoded_note, decoded, web, server_decode, manifold_note, manifold)


class MapHandlers:
    """The tab's handlers; each returns its outputs by component."""

    def __init__(self, ctx: Context, ui: MapUI):
        self.ctx, self.ui = ctx, ui

    def latent_map(self, dataset, name, how):
        e = self.ctx.registry.get(name, dataset, latent_code=True)
        return e, latent.latent_map(e, self.ctx.images, how)

    @staticmethod
    def figure(dataset, e, m, px, py):
        return figures.map_figure(m, dataset_info(dataset).class_names, (px, py),
                                  title=_("{name}: {n} test images", name=e.name, n=len(m.xy)))

    def codebook(self, e) -> dict:
        """A discrete code: the codebook is the map, and the picture a test image as its code grid."""
        ui = self.ui
        use = codes.codebook_use(e, self.ctx.images)
        s = self.ctx.images.get(e.dataset)
        example = None
        if s is not None and len(s):  # a test image's code: each cell is one of the dots
            g = codes.image_codes(e, s.floats(slice(0, 1)))
            example = codes.grid_view(e, codes.decode_grid(e, g), g)
        hidden = gr.update(visible=False)
        info = codes.use_text(e, use) + "\n\n" + codes.spread_text(e, self.ctx.images)
        return {ui.plot: figures.codebook_figure(e, use), ui.info: info, ui.x: hidden, ui.y: hidden,
                ui.decoded: gr.update(value=example, label=_("Test image #0 as codes")),
                ui.manifold: gr.update(value=None, visible=False), ui.manifold_note: hidden, ui.method: hidden,
                ui.web: None}

    @safe
    def on_model(self, dataset, name, how):
        ui = self.ui
        if not name:
            return {ui.plot: None, ui.info: _("No model for {dataset} yet: train one in the Train tab.", dataset=dataset),
                    ui.decoded: None, ui.manifold: gr.update(visible=False),
                    ui.manifold_note: gr.update(visible=False), ui.web: None}
        e = self.ctx.registry.get(name, dataset, latent_code=True)
        if e.model.discrete:
            return self.codebook(e)
        e, m = self.latent_map(dataset, name, how)
        x0, x1, y0, y1 = m.extent
        cx, cy = round((x0 + x1) / 2, 2), round((y0 + y1) / 2, 2)
        show_grid = m.method != "tsne"
        text = (_("{note}. {n} points, one per test image (codes {source}); click the map or drag x/y to move the "
                  "crosshair", note=m.note, n=len(m.xy), source=_(m.source))
                + (_("; the manifold on the right decodes a 15×15 grid over this extent.") if show_grid else "."))
        c = latent.map_class(e, m)
        if c is not None:  # a conditional model's map decodes with one class
            names = dataset_info(dataset).class_names
            text += " " + _("A conditional VAE's z holds no class (it is told the class), so the classes overlap; "
                            "the crosshair and the manifold decode as class {name}, the most common.",
                            name=_(names[c]) if c < len(names) else c)
        # round steps: the number boxes show 2 decimals, not -1.841394140625
        return {ui.plot: self.figure(dataset, e, m, cx, cy), ui.info: text,
                ui.x: gr.update(minimum=round(x0, 2), maximum=round(x1, 2), value=cx, step=0.01, visible=True),
                ui.y: gr.update(minimum=round(y0, 2), maximum=round(y1, 2), value=cy, step=0.01, visible=True),
                ui.decoded: gr.update(value=latent.decode(e, m.latent_at(cx, cy)), label=_("Decoded at the crosshair")),
                ui.manifold: gr.update(value=latent.manifold_grid(e, m) if show_grid else None, visible=show_grid),
                ui.manifold_note: gr.update(visible=show_grid), ui.method: gr.update(visible=True),
                ui.web: webdecode.page_map(e, m)}

    def heading(self, name):
        """What the picture on the right is: a decoded position, or (a discrete code) a test image's code grid.
        Silent: a model that does not fit is reported once, by on_model."""
        try:
            e = self.ctx.registry.get(name)
        except UserInputError:
            return _(DECODED_NOTE)
        return _(CODES_NOTE) if e.model.discrete else _(DECODED_NOTE)

    @safe
    def map_decode(self, dataset, name, how, px, py):
        e, m = self.latent_map(dataset, name, how)
        return latent.decode(e, m.latent_at(px, py))

    @safe
    def on_release(self, dataset, name, how, px, py):
        e, m = self.latent_map(dataset, name, how)
        return self.figure(dataset, e, m, px, py)

    @safe
    def relist(self, dataset, current):
        return self.ctx.model_dropdown_update(dataset, current, prefer_2d=True)  # a native map first


def wire(ctx: Context, ui: MapUI, h: MapHandlers) -> None:
    quiet = {"show_progress": "hidden"}
    gr.on(ctx.model_triggers(), h.relist, [ctx.dataset, ui.model], ui.model, **quiet)
    gr.on([ui.model.change, ui.method.change], h.on_model, [ctx.dataset, ui.model, ui.method],
          [ui.plot, ui.info, ui.x, ui.y, ui.decoded, ui.manifold, ui.manifold_note, ui.method, ui.web],
          show_progress="minimal")
    ui.model.change(safe(h.heading), ui.model, ui.decoded_note, **quiet)
    ui.web.change(None, ui.web, None, js=keep_in_page("vaeMapWeb"))  # the pointer's hover decodes with it
    ui.server_decode.click(h.map_decode, [ctx.dataset, ui.model, ui.method, ui.x, ui.y], ui.decoded,
                           trigger_mode="always_last", concurrency_limit=None, api_name="map_decode",
                           api_description="The latent map decoded at (x, y): dataset, model, projection, x, y → "
                                           "the image.", **quiet)
    for s in (ui.x, ui.y):
        s.release(h.on_release, [ctx.dataset, ui.model, ui.method, ui.x, ui.y], ui.plot, trigger_mode="always_last",
                  **quiet)
    ctx.load_events.append((h.relist, [ctx.dataset, ui.model], [ui.model]))


def build(ctx: Context) -> None:
    ui = layout()
    wire(ctx, ui, MapHandlers(ctx, ui))


STATE = [["map-model", "dropdown"], ["map-method", "radio"], ["map-x", "slider"], ["map-y", "slider"]]  # in a link
TAB = Tab("map", "Latent map", build, css=TAB_FILES / "map.css", script=TAB_FILES / "map.js", config={"state": STATE})

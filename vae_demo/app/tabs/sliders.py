"""Tab 2 — Latent sliders: one slider per latent dim (most informative first), decoded live."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from vae_demo.app.common import Context, as_tensor, explain, keep_in_page, safe
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.app.tabs import class_controls
from vae_demo.app.tabs.class_controls import ClassUI
from vae_demo.language import _
from vae_demo.services import codes, latent, webdecode
from vae_demo.services.errors import UserInputError

EXPLAIN = r"""
**Drive the decoder yourself.** Each slider is one coordinate of the code $z$; the image is $g(z)$.
Sliders are in standard units: for a VAE the prior is $p(z)=\mathcal N(0, I)$, so $\pm 3$ covers almost all of
it; for an autoencoder or PCA, $z_d = \mu_d + v\,\sigma_d$ with $\mu,\sigma$ from the test-set codes.
Dims are ordered by how much they carry: for a VAE the mean KL per dim
$$\mathrm{KL}\big(q(z_d\mid x)\,\Vert\,\mathcal N(0,1)\big) = \tfrac12\left(\mu_d^2+\sigma_d^2-1-\log\sigma_d^2\right),$$
averaged over test images (dims with KL ≈ 0 are unused: the posterior collapsed onto the prior there);
for PCA the eigenvalue (variance explained); for an autoencoder the variance of the codes.
At most 16 sliders are shown; the other dims keep their value.

**A discrete code (VQ-VAE)** has no sliders: its code is a grid of *indices*, each cell naming one of the $K$
vectors of a learned codebook, and the decoder sees the grid of those vectors. The grid is drawn over the
decoded image (each cell's code in its corner): click a cell, pick another code, and watch which patch of
the image that one cell controls. Random codes are drawn uniformly (no prior over codes is learned here).
"""


@dataclass
class SlidersUI:
    """The tab's components."""

    model: gr.Dropdown
    info: gr.Markdown
    sliders: list  # MAX_SLIDERS gr.Slider, the shown dims' values in standard units
    slider_row: gr.Row
    codes_col: gr.Column  # the code-grid editor, for a discrete code
    grid_img: gr.Image
    cell_code: gr.Slider
    code_info: gr.Markdown
    image: gr.Image
    web: gr.JSON  # the page's copy of what it needs to decode (webdecode.page_decoder)
    server_decode: gr.Button  # what a move clicks when the page cannot decode
    codes_web: gr.JSON  # the code-grid editor's page copy (webdecode.page_codes)
    grid_state: gr.JSON  # the grid (nested lists; the page changes it)
    cell_state: gr.JSON  # the selected cell [row, col]
    server_code: gr.Button  # what a code change clicks when the page cannot decode it
    sample: gr.Button
    reset: gr.Button
    from_image: gr.Button
    base: gr.State  # all D values (standard units) of the current code
    classes: ClassUI  # a conditional model's class controls
    class_refresh: gr.Button  # what the page clicks after a slider move of a conditional model (its grids)

    @property
    def new_code(self) -> list:
        """What a whole new code sets (every button's outputs)."""
        return [*self.sliders, self.base, self.image, self.slider_row, self.codes_col, self.grid_state,
                self.cell_state, self.grid_img, self.cell_code, self.code_info, self.web, self.codes_web,
                *self.classes.outputs]


def _slider_grid() -> tuple[list, gr.Row]:
    sliders = []
    with gr.Row() as row:
        for col in range(2):
            with gr.Column(min_width=220):
                for r in range(latent.MAX_SLIDERS // 2):
                    i = col * (latent.MAX_SLIDERS // 2) + r
                    sliders.append(gr.Slider(-latent.SLIDER_RANGE, latent.SLIDER_RANGE, value=0.0, step=0.01,
                                             label=f"z[{i}]", elem_id=f"sliders-z{i}", visible=False))
    return sliders, row


def _code_editor() -> dict:
    with gr.Column(visible=False, elem_id="codes-editor") as codes_col:  # for a discrete code
        with gr.Row():
            with gr.Column(min_width=codes.VIEW_SIZE):
                # its name as a heading: a label drawn over the picture hid the top row's codes
                gr.Markdown("**Code grid over the decoded image**: click a cell")
                grid_img = gr.Image(label="Code grid over the decoded image: click a cell", show_label=False,
                                    type="numpy", interactive=False, height=codes.VIEW_SIZE,
                                    width=codes.VIEW_SIZE, format="png", buttons=[], elem_id="codes-grid")
            with gr.Column(min_width=220):
                cell_code = gr.Slider(0, 1, value=0, step=1, label="Code of the selected cell", elem_id="codes-code")
                code_info = gr.Markdown("", elem_id="codes-info")
    return {"codes_col": codes_col, "grid_img": grid_img, "cell_code": cell_code, "code_info": code_info}


def _picture_column() -> dict:
    with gr.Column(scale=1, min_width=280):
        parts = {"image": gr.Image(label="Decoded image g(z)", type="numpy", interactive=False, height=300,
                                   format="png", elem_id="sliders-image", elem_classes=["vd-main"], buttons=[])}
        gr.HTML('<span id="sliders-where"></span>', elem_classes="explain", padding=False)
        # page copies: hidden by CSS, not by visible=False, so the page has their values
        parts["web"] = gr.JSON(None, elem_id="sliders-web", show_label=False)
        parts["server_decode"] = gr.Button("decode on the server", elem_id="sliders-server-decode")
        parts["codes_web"] = gr.JSON(None, elem_id="codes-web", show_label=False)
        parts["grid_state"] = gr.JSON(None, elem_id="codes-grid-state", show_label=False)
        parts["cell_state"] = gr.JSON(None, elem_id="codes-cell", show_label=False)
        parts["server_code"] = gr.Button("decode the code grid on the server", elem_id="codes-server-decode")
        parts["class_refresh"] = gr.Button("draw the class grids again", elem_id="sliders-class-refresh")
        with gr.Row():
            parts["sample"] = gr.Button("Sample from the prior", elem_id="sliders-sample")
            parts["reset"] = gr.Button("Reset to 0", elem_id="sliders-reset")
        parts["from_image"] = gr.Button("Start from the image picked in “Corrupt & restore”",
                                        elem_id="sliders-from-image")
    return parts


def layout() -> SlidersUI:
    with gr.Row():
        with gr.Column(scale=2):
            # custom values: API callers may name any model (the registry checks it, with a clear message)
            model = gr.Dropdown(label="Model", choices=[], elem_id="sliders-model", allow_custom_value=True)
            info = gr.Markdown("", elem_id="sliders-info")
            sliders, slider_row = _slider_grid()
            editor = _code_editor()
            class_ui = class_controls.layout()
        picture = _picture_column()
    explain(EXPLAIN)
    return SlidersUI(model=model, info=info, sliders=sliders, slider_row=slider_row, base=gr.State(None),
                     classes=class_ui, **editor, **picture)


def decode_sliders(ctx: Context, dataset, name, base_values, *values):
    """A slider move decoded on the server (the API's ``slide``): dataset, model, all D values in standard units
    (or None: zeros), the shown sliders' values → the decoded image."""
    e = ctx.registry.get(name, dataset, latent_code=True)
    stats = latent.latent_stats(e, ctx.images)
    if base_values is None:
        base_values = latent.zero_values(e)
    img, _z = latent.slider_decode(e, stats, base_values, values)
    return img


def make_slide_handler(ctx: Context):
    """The handler a slider move calls, as wired (the benchmark times it)."""

    @safe
    def slide(dataset, name, base_values, *values):
        return decode_sliders(ctx, dataset, name, base_values, *values)

    return slide


class SlidersHandlers:
    """The tab's handlers; each returns its outputs by component."""

    def __init__(self, ctx: Context, ui: SlidersUI):
        self.ctx, self.ui = ctx, ui

    # --- what a whole new code shows --------------------------------------------------------------------
    def show_values(self, e, stats, values, to_class=None) -> dict:
        """A continuous code: every slider, the base, the image, the page's copy; the code editor hidden."""
        ui, shown = self.ui, stats.shown
        values = np.round(np.asarray(values, dtype=np.float64), 2)  # the sliders show 2 decimals: decode those
        labels = latent.slider_labels(e, stats)
        out = {s: (gr.update(visible=True, value=float(values[shown[i]]), label=labels[i]) if i < len(shown)
                   else gr.update(visible=False, value=0.0)) for i, s in enumerate(ui.sliders)}
        out.update({ui.base: [float(v) for v in values], ui.image: latent.decode(e, latent.to_latent(stats, values)),
                    ui.slider_row: gr.update(visible=True), ui.codes_col: gr.update(visible=False),
                    ui.grid_state: None, ui.cell_state: None,
                    ui.web: webdecode.page_decoder(e, stats, values), ui.codes_web: None})
        out.update(class_controls.show(ui.classes, e, stats, values, self.ctx.images, to_class))
        return out

    def cell_info(self, e, grid, cell) -> dict:
        """The code picker and the info line for the selected ``cell`` of ``grid``."""
        use = codes.codebook_use(e, self.ctx.images)
        r, c = cell
        k = int(grid[r][c])
        share = use.counts[k] / max(use.counts.sum(), 1)
        picker = gr.update(minimum=0, maximum=e.model.codebook_size - 1, value=k,
                           label=_("Code of cell (row {r}, col {c}): 0..{hi}", r=r, c=c, hi=e.model.codebook_size - 1))
        text = _("Cell ({row}, {col}) holds code **{k}**, used by {pct}% of the test images' cells. Most used codes: {top}.",
                 row=r, col=c, k=k, pct=f"{100 * share:.1f}", top=", ".join(map(str, codes.codes_by_use(use)[:8])))
        return {self.ui.cell_code: picker, self.ui.code_info: text}

    def show_grid(self, e, grid) -> dict:
        """A discrete code: the sliders hidden, the code-grid editor shown on the middle cell."""
        ui = self.ui
        grid = codes.check_grid(e, grid)
        h, w = grid.shape
        cell = (h // 2, w // 2)
        picture = codes.decode_grid(e, grid)
        out = {s: gr.update(visible=False) for s in ui.sliders}
        out[ui.classes.column] = gr.update(visible=False)
        out.update({ui.base: None, ui.image: latent.display(picture, 224), ui.slider_row: gr.update(visible=False),
                    ui.codes_col: gr.update(visible=True), ui.grid_state: grid.tolist(), ui.cell_state: list(cell),
                    ui.grid_img: codes.grid_view(e, picture, grid, cell), ui.web: None,
                    ui.codes_web: webdecode.page_codes(e, codes.codebook_use(e, self.ctx.images))})
        out.update(self.cell_info(e, grid.tolist(), cell))
        return out

    def start_grid(self, e, x):
        """The codes of the picked image, else of the first test image, else uniform random ones."""
        if x is not None:
            try:
                return codes.image_codes(e, as_tensor(x, e.dataset))
            except Exception:  # an image of another dataset: fall back to a test image
                pass
        s = self.ctx.images.get(e.dataset)
        if s is not None and len(s):
            return codes.image_codes(e, s.floats(slice(0, 1)))
        return codes.random_grid(e, 0)

    def entry(self, dataset, name):
        return self.ctx.registry.get(name, dataset, latent_code=True)

    # --- events --------------------------------------------------------------------------------------------
    @safe
    def on_model(self, dataset, name, x=None):
        ui = self.ui
        if not name:
            out = {s: gr.update(visible=False) for s in ui.sliders}
            out.update({ui.base: None, ui.image: None, ui.grid_state: None, ui.cell_state: None, ui.web: None,
                        ui.codes_web: None, ui.info: _("No model for {dataset} yet: train one in the Train tab.",
                                                            dataset=dataset)})
            return out
        e = self.entry(dataset, name)
        if e.model.discrete:
            h, w = e.model.code_grid
            text = _("**{name}** ({role}): a discrete code, {h}×{w} cells, each one of {k} codebook vectors ({bits:.0f} "
                     "bits per image). Click a cell of the grid, then pick another code for it.", name=e.name,
                     role=e.role, h=h, w=w, k=e.model.codebook_size, bits=e.model.latent_bits())
            return {**self.show_grid(e, self.start_grid(e, x)), ui.info: text,
                    ui.sample: gr.update(value=_("Random codes (uniform)")),
                    ui.reset: gr.update(value=_("Reset to the image's codes"))}
        stats = latent.latent_stats(e, self.ctx.images)
        kind = _("VAE: samples from the prior are meaningful") if e.is_vae else (
            _("not generative: random codes may decode to garbage (there is no prior)"))
        text = _("**{name}**: {d} latent dims, {n} shown, ordered by {what}. {kind}.", name=e.name, d=e.latent_dim,
                 n=min(e.latent_dim, latent.MAX_SLIDERS), what=_(stats.what), kind=kind)
        if e.is_conditional:
            text += " " + _("It is also told the class: pick it below the sliders.")
        # only a VAE has a prior to sample from; for the others the button draws a random code
        button = _("Sample from the prior") if e.is_vae else _("Random code (no prior)")
        return {**self.show_values(e, stats, latent.zero_values(e)), ui.info: text,
                ui.sample: gr.update(value=button), ui.reset: gr.update(value=_("Reset to 0"))}

    @safe
    def sample_prior(self, dataset, name, base=None):
        e = self.entry(dataset, name)
        if e.model.discrete:
            return self.show_grid(e, codes.random_grid(e))
        return self.show_values(e, latent.latent_stats(e, self.ctx.images), latent.random_values(e, base=base))

    @safe
    def reset(self, dataset, name, x=None, base=None):
        e = self.entry(dataset, name)
        if e.model.discrete:
            return self.show_grid(e, self.start_grid(e, x))
        return self.show_values(e, latent.latent_stats(e, self.ctx.images), latent.zero_values(e, base))

    def current_values(self, e, base, shown) -> tuple:
        """(stats, every value) of the code on screen: ``base`` with the shown sliders' values."""
        stats = latent.latent_stats(e, self.ctx.images)
        return stats, latent.slider_decode(e, stats, latent.zero_values(e) if base is None else base, shown)[1]

    @safe
    def set_class(self, dataset, name, base, label, to_class, *shown):
        """A class picked: the code on screen with that class, decoded (a conditional model)."""
        e = self.entry(dataset, name)
        stats, v = self.current_values(e, base, shown)
        return self.show_values(e, stats, class_controls.with_class(e, v, label), to_class)

    @safe
    def class_grids(self, dataset, name, base, to_class, *shown):
        """The class grids of the code on screen (after a slider move, or another "to" class)."""
        e = self.entry(dataset, name)
        stats, v = self.current_values(e, base, shown)
        out = class_controls.show(self.ui.classes, e, stats, v, self.ctx.images, to_class)
        return [out[self.ui.classes.every], out[self.ui.classes.path]]

    @safe
    def from_image(self, dataset, name, x):
        e = self.entry(dataset, name)
        if e.model.discrete:
            return self.show_grid(e, codes.image_codes(e, as_tensor(x, dataset)))
        stats = latent.latent_stats(e, self.ctx.images)
        return self.show_values(e, stats, latent.encode_values(e, stats, as_tensor(x, dataset)))

    @safe
    def select_cell(self, dataset, name, grid, evt: gr.SelectData):
        """A click on the code grid: select the cell under it."""
        e = self.entry(dataset, name)
        g = codes.check_grid(e, grid)
        x, y = (evt.index or (None, None))[:2]
        cell = codes.cell_at(e, x, y)
        picture = codes.decode_grid(e, g)
        return {self.ui.cell_state: list(cell), self.ui.grid_img: codes.grid_view(e, picture, g, cell),
                **self.cell_info(e, g.tolist(), cell)}

    @safe
    def set_code(self, dataset, name, grid, cell, code):
        """The selected cell gets ``code`` and the image is decoded again."""
        e = self.entry(dataset, name)
        if cell is None or len(cell) != 2:
            raise UserInputError(_("click a cell of the grid first"))
        g = codes.set_cell(e, grid, cell[0], cell[1], code)
        picture = codes.decode_grid(e, g)
        info = self.cell_info(e, g.tolist(), tuple(int(v) for v in cell))
        return {self.ui.grid_state: g.tolist(), self.ui.image: latent.display(picture, 224),
                self.ui.grid_img: codes.grid_view(e, picture, g, tuple(cell)),
                self.ui.code_info: info[self.ui.code_info]}

    @safe
    def relist(self, dataset, current):
        return self.ctx.model_dropdown_update(dataset, current)


def wire(ctx: Context, ui: SlidersUI, h: SlidersHandlers) -> None:
    quiet = {"show_progress": "hidden"}
    gr.on(ctx.model_triggers(), h.relist, [ctx.dataset, ui.model], ui.model, **quiet)
    ui.model.change(h.on_model, [ctx.dataset, ui.model, ctx.current], [*ui.new_code, ui.info, ui.sample, ui.reset],
                    **quiet)
    # live while dragging: decoded in the page (sliders.js); the server only when the page cannot, through the
    # hidden button; stale positions are dropped (always_last); fast, so no concurrency cap
    ui.web.change(None, ui.web, None, js=keep_in_page("vaeSlidersWeb", clear="#sliders-where"))
    ui.codes_web.change(None, ui.codes_web, None, js=keep_in_page("vaeCodesWeb", clear="#sliders-where"))
    ui.server_decode.click(make_slide_handler(ctx), [ctx.dataset, ui.model, ui.base, *ui.sliders], ui.image,
                           trigger_mode="always_last", concurrency_limit=None, queue=False, api_name="slide",
                           api_description="The sliders decoded: dataset, model, every dim's value (standard "
                                           "units), then the shown sliders' values → the image.", **quiet)
    ui.sample.click(h.sample_prior, [ctx.dataset, ui.model, ui.base], ui.new_code, api_name="sample_prior",
                    api_description="A random code (from the prior for a VAE), its sliders and its image.", **quiet)
    ui.reset.click(h.reset, [ctx.dataset, ui.model, ctx.current, ui.base], ui.new_code, **quiet)
    c = ui.classes
    c.klass.input(h.set_class, [ctx.dataset, ui.model, ui.base, c.klass, c.to_class, *ui.sliders], ui.new_code,
                  **quiet)
    # after a slider move the page clicks the hidden button (sliders.js) when the model is told the class
    gr.on([ui.class_refresh.click, c.to_class.input], h.class_grids,
          [ctx.dataset, ui.model, ui.base, c.to_class, *ui.sliders], [c.every, c.path], trigger_mode="always_last",
          **quiet)
    ui.grid_img.select(h.select_cell, [ctx.dataset, ui.model, ui.grid_state],
                       [ui.cell_state, ui.grid_img, ui.cell_code, ui.code_info], **quiet)
    # a code picked for the selected cell: set and decoded in the page (sliders.js pickCode), else the server
    ui.cell_code.input(None, [ui.codes_web, ui.grid_state, ui.cell_state, ui.cell_code, ui.code_info],
                       [ui.grid_state, ui.code_info], js="(...a) => window.vaeDemo.sliders.pickCode(...a)",
                       queue=False, **quiet)
    ui.server_code.click(h.set_code, [ctx.dataset, ui.model, ui.grid_state, ui.cell_state, ui.cell_code],
                         [ui.grid_state, ui.image, ui.grid_img, ui.code_info], trigger_mode="always_last",
                         api_name="set_code", api_description="A discrete code: give one cell of the grid another "
                                                              "code → the grid, the image, the grid's picture.",
                         **quiet)
    ui.from_image.click(h.from_image, [ctx.dataset, ui.model, ctx.current], ui.new_code, **quiet)
    ctx.load_events.append((h.relist, [ctx.dataset, ui.model], [ui.model]))


def build(ctx: Context) -> None:
    ui = layout()
    wire(ctx, ui, SlidersHandlers(ctx, ui))


TAB = Tab("sliders", "Latent sliders", build, css=TAB_FILES / "sliders.css", script=TAB_FILES / "sliders.js",
          config={"range": latent.SLIDER_RANGE,  # the view in a link: the model, then each shown slider
                  "state": [["sliders-model", "dropdown"],
                            *([f"sliders-z{i}", "slider"] for i in range(latent.MAX_SLIDERS))]})

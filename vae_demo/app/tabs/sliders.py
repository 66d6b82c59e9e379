"""Tab 2 — Latent sliders: one slider per latent dim (most informative first), decoded live."""

from __future__ import annotations

import gradio as gr
import numpy as np

from vae_demo.app.common import Context, as_tensor, explain, keep_in_page, safe
from vae_demo.app.registry import TAB_FILES, Tab
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


# A code picked for the selected cell (a discrete code): set it in the grid and decode and draw in the page
# (decoder.js paintCodes); when the page cannot, the hidden button asks the server's set_code
CODE_JS = """
async (web, grid, cell, code, info) => {
  const D = window.vaeDecoder;
  const k = Math.round(Number(code));
  const ok = D && web && Array.isArray(grid) && Array.isArray(cell) && cell.length === 2
    && Number.isFinite(k) && k >= 0 && k < web.shares.length;
  let r = {page: false, why: !D ? 'the decoder script did not load' : !web ? 'this model has no exported decoder'
    : 'the server checks this code'};
  let g = grid;
  if (ok) {
    g = grid.map((row) => row.slice());
    g[cell[0]][cell[1]] = k;
    r = await D.paintCodes(web, g, cell);
  }
  const where = document.querySelector('#sliders-where');
  const text = r.page ? 'Decoded in this browser (TensorFlow.js, ' + r.backend + '): a code change asks the '
    + 'server nothing.' : 'Decoded on the server (' + r.why + ').';
  if (where && where.innerText !== text) where.innerText = text;
  if (!r.page) { document.querySelector('#codes-server-decode').click(); return [grid, info]; }
  const pct = (100 * web.shares[k]).toFixed(1);
  return [g, 'Cell (' + cell[0] + ', ' + cell[1] + ') holds code **' + k + '**, used by ' + pct
    + "% of the test images' cells. Most used codes: " + web.top.join(', ') + '.'];
}
"""


def make_slide_handler(ctx: Context):
    """The handler a slider move calls (the benchmark times exactly this function)."""

    @safe
    def on_slide(dataset, name, base_values, *values):
        e = ctx.registry.get(name, dataset, latent_code=True)
        stats = latent.latent_stats(e, ctx.images)
        if base_values is None:
            base_values = np.zeros(e.latent_dim)
        img, _ = latent.slider_decode(e, stats, base_values, values)
        return img

    return on_slide


def make_cell_handler(ctx: Context, cell_info):
    """A click on the code grid: select the cell under it."""

    @safe
    def on_cell(dataset, name, grid, evt: gr.SelectData):
        e = ctx.registry.get(name, dataset, latent_code=True)
        g = codes.check_grid(e, grid)
        x, y = (evt.index or (None, None))[:2]
        cell = codes.cell_at(e, x, y)
        picture = codes.decode_grid(e, g)
        picker, text = cell_info(e, g.tolist(), cell)
        return list(cell), codes.grid_view(e, picture, g, cell), picker, text

    return on_cell


def make_code_handler(ctx: Context, cell_info):
    """The code picker moved: the selected cell gets that code, and the image is decoded again (the API's
    ``set_code``: dataset, model, grid, [row, col], code → grid, image, grid picture, info)."""

    @safe
    def on_code(dataset, name, grid, cell, code):
        e = ctx.registry.get(name, dataset, latent_code=True)
        if cell is None or len(cell) != 2:
            raise UserInputError("click a cell of the grid first")
        g = codes.set_cell(e, grid, cell[0], cell[1], code)
        picture = codes.decode_grid(e, g)
        _, text = cell_info(e, g.tolist(), tuple(int(v) for v in cell))
        return g.tolist(), latent.display(picture, 224), codes.grid_view(e, picture, g, tuple(cell)), text

    return on_code


def build(ctx: Context) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            # custom values: API callers may name any model (the registry checks it, with a clear message)
            model = gr.Dropdown(label="Model", choices=[], elem_id="sliders-model",
                                allow_custom_value=True)
            info = gr.Markdown("", elem_id="sliders-info")
            sliders = []
            with gr.Row() as slider_row:
                for col in range(2):
                    with gr.Column(min_width=220):
                        for r in range(latent.MAX_SLIDERS // 2):
                            i = col * (latent.MAX_SLIDERS // 2) + r
                            sliders.append(gr.Slider(-latent.SLIDER_RANGE, latent.SLIDER_RANGE, value=0.0, step=0.01,
                                                     label=f"z[{i}]", elem_id=f"sliders-z{i}", visible=False))
            with gr.Column(visible=False, elem_id="codes-editor") as codes_col:  # for a discrete code
                with gr.Row():
                    with gr.Column(min_width=codes.VIEW_SIZE):
                        # its name as a heading: a label drawn over the picture hid the top row's codes
                        gr.Markdown("**Code grid over the decoded image**: click a cell")
                        grid_img = gr.Image(label="Code grid over the decoded image: click a cell", show_label=False,
                                            type="numpy", interactive=False, height=codes.VIEW_SIZE,
                                            width=codes.VIEW_SIZE, format="png", buttons=[], elem_id="codes-grid")
                    with gr.Column(min_width=220):
                        cell_code = gr.Slider(0, 1, value=0, step=1, label="Code of the selected cell",
                                              elem_id="codes-code")
                        code_info = gr.Markdown("", elem_id="codes-info")
        with gr.Column(scale=1, min_width=280):
            image = gr.Image(label="Decoded image g(z)", type="numpy", interactive=False, height=300, format="png",
                             elem_id="sliders-image", buttons=[])
            gr.HTML('<span id="sliders-where"></span>', elem_classes="explain", padding=False)
            # the page's copy of what it needs to decode (webdecode.page_decoder); hidden by CSS, not by
            # visible=False, so the page has its value; the button is what a move clicks when it cannot
            web = gr.JSON(None, elem_id="sliders-web", show_label=False)
            server_decode = gr.Button("decode on the server", elem_id="sliders-server-decode")
            # the code-grid editor's page copy (webdecode.page_codes), its grid and selected cell (the page
            # changes them), and the button a code change clicks when the page cannot decode it
            codes_web = gr.JSON(None, elem_id="codes-web", show_label=False)
            grid_state = gr.JSON(None, elem_id="codes-grid-state", show_label=False)  # nested lists
            cell_state = gr.JSON(None, elem_id="codes-cell", show_label=False)  # [row, col]
            server_code = gr.Button("decode the code grid on the server", elem_id="codes-server-decode")
            with gr.Row():
                sample = gr.Button("Sample from the prior", elem_id="sliders-sample")
                reset = gr.Button("Reset to 0", elem_id="sliders-reset")
            from_image = gr.Button("Start from the image picked in “Corrupt & restore”", elem_id="sliders-from-image")
    explain(EXPLAIN)
    base = gr.State(None)  # all D values (standard units) of the current code

    def _set(e, stats, values, text=None):
        """Outputs for a whole new code: every slider, the base, the image (and the info line)."""
        shown = stats.shown
        values = np.round(np.asarray(values, dtype=np.float64), 2)  # the sliders show 2 decimals: decode those
        labels = latent.slider_labels(e, stats)
        ups = []
        for i in range(latent.MAX_SLIDERS):
            if i < len(shown):
                ups.append(gr.update(visible=True, value=float(values[shown[i]]), label=labels[i]))
            else:
                ups.append(gr.update(visible=False, value=0.0))
        img = latent.decode(e, latent.to_latent(stats, values))
        no_codes = (gr.update(visible=True), gr.update(visible=False), None, None, gr.skip(), gr.skip(), gr.skip())
        return (*ups, [float(v) for v in values], img, *no_codes,
                webdecode.page_decoder(e, stats, values), None) + ((text,) if text is not None else ())

    def _cell(e, grid, cell):
        """The code picker's update and the info line for the selected ``cell`` of ``grid``."""
        use = codes.codebook_use(e, ctx.images)
        r, c = cell
        k = int(grid[r][c])
        share = use.counts[k] / max(use.counts.sum(), 1)
        picker = gr.update(minimum=0, maximum=e.model.codebook_size - 1, value=k,
                           label=f"Code of cell (row {r}, col {c}): 0..{e.model.codebook_size - 1}")
        text = (f"Cell ({r}, {c}) holds code **{k}**, used by {share:.1%} of the test images' cells. "
                f"Most used codes: {', '.join(map(str, codes.codes_by_use(use)[:8]))}.")
        return picker, text

    def _set_codes(e, grid, text=None):
        """Outputs for a whole new code grid (a discrete model): the sliders hidden, the editor shown."""
        grid = codes.check_grid(e, grid)
        h, w = grid.shape
        cell = (h // 2, w // 2)
        picture = codes.decode_grid(e, grid)
        picker, info_text = _cell(e, grid.tolist(), cell)
        outs = (*[gr.update(visible=False)] * latent.MAX_SLIDERS, None, latent.display(picture, 224),
                gr.update(visible=False), gr.update(visible=True), grid.tolist(), list(cell),
                codes.grid_view(e, picture, grid, cell), picker, info_text, None,
                webdecode.page_codes(e, codes.codebook_use(e, ctx.images)))
        return outs + ((text,) if text is not None else ())

    def _start_grid(e, x):
        """The codes of the picked image, else of the first test image, else uniform random ones."""
        if x is not None:
            try:
                return codes.image_codes(e, as_tensor(x, e.dataset))
            except Exception:  # an image of another dataset: fall back to a test image
                pass
        s = ctx.images.get(e.dataset)
        if s is not None and len(s):
            return codes.image_codes(e, s.floats(slice(0, 1)))
        return codes.random_grid(e, 0)

    @safe
    def on_model(dataset, name, x=None):
        if not name:
            return (*[gr.update(visible=False)] * latent.MAX_SLIDERS, None, None, gr.skip(), gr.skip(), None, None,
                    gr.skip(), gr.skip(), gr.skip(), None, None,
                    f"No model for {dataset} yet: train one in the Train tab.", gr.update(), gr.update())
        e = ctx.registry.get(name, dataset, latent_code=True)
        if e.model.discrete:
            h, w = e.model.code_grid
            text = (f"**{e.name}** ({e.role}): a discrete code, {h}×{w} cells, each one of "
                    f"{e.model.codebook_size} codebook vectors ({e.model.latent_bits():.0f} bits per image). "
                    "Click a cell of the grid, then pick another code for it.")
            return (*_set_codes(e, _start_grid(e, x), text), gr.update(value="Random codes (uniform)"),
                    gr.update(value="Reset to the image's codes"))
        stats = latent.latent_stats(e, ctx.images)
        kind = "VAE: samples from the prior are meaningful" if e.is_vae else (
            "not generative: random codes may decode to garbage (there is no prior)")
        text = (f"**{e.name}**: {e.latent_dim} latent dims, {min(e.latent_dim, latent.MAX_SLIDERS)} shown, "
                f"ordered by {stats.what}. {kind}.")
        # only a VAE has a prior to sample from; for the others the button draws a random code
        button = "Sample from the prior" if e.is_vae else "Random code (no prior)"
        return (*_set(e, stats, np.zeros(e.latent_dim), text), gr.update(value=button), gr.update(value="Reset to 0"))

    on_slide = make_slide_handler(ctx)

    @safe
    def on_sample(dataset, name):
        e = ctx.registry.get(name, dataset, latent_code=True)
        if e.model.discrete:
            return _set_codes(e, codes.random_grid(e))
        return _set(e, latent.latent_stats(e, ctx.images), latent.random_values(e))

    @safe
    def on_reset(dataset, name, x=None):
        e = ctx.registry.get(name, dataset, latent_code=True)
        if e.model.discrete:
            return _set_codes(e, _start_grid(e, x))
        return _set(e, latent.latent_stats(e, ctx.images), np.zeros(e.latent_dim))

    @safe
    def on_from_image(dataset, name, x):
        e = ctx.registry.get(name, dataset, latent_code=True)
        if e.model.discrete:
            return _set_codes(e, codes.image_codes(e, as_tensor(x, dataset)))
        stats = latent.latent_stats(e, ctx.images)
        return _set(e, stats, latent.encode_values(e, stats, as_tensor(x, dataset)))

    on_cell = make_cell_handler(ctx, _cell)
    on_code = make_code_handler(ctx, _cell)

    set_outputs = [*sliders, base, image, slider_row, codes_col, grid_state, cell_state, grid_img, cell_code,
                   code_info, web, codes_web]

    def relist(dataset, current):
        return ctx.model_dropdown_update(dataset, current)

    gr.on(ctx.model_triggers(), safe(relist), [ctx.dataset, model], model, show_progress="hidden")
    model.change(on_model, [ctx.dataset, model, ctx.current], [*set_outputs, info, sample, reset], show_progress="hidden")
    # live while dragging: decoded in the page (PAGE_JS); the server only when the page cannot, through the
    # hidden button; stale positions are dropped (always_last); fast, so no concurrency cap
    web.change(None, web, None, js=keep_in_page("vaeSlidersWeb", clear="#sliders-where"))
    codes_web.change(None, codes_web, None, js=keep_in_page("vaeCodesWeb", clear="#sliders-where"))  # graph early
    server_decode.click(on_slide, [ctx.dataset, model, base, *sliders], image, show_progress="hidden",
                        trigger_mode="always_last", concurrency_limit=None, queue=False, api_name="slide")
    sample.click(on_sample, [ctx.dataset, model], set_outputs, show_progress="hidden")
    reset.click(on_reset, [ctx.dataset, model, ctx.current], set_outputs, show_progress="hidden")
    grid_img.select(on_cell, [ctx.dataset, model, grid_state], [cell_state, grid_img, cell_code, code_info],
                    show_progress="hidden", api_visibility="private")
    cell_code.input(None, [codes_web, grid_state, cell_state, cell_code, code_info], [grid_state, code_info],
                    js=CODE_JS, show_progress="hidden", queue=False)
    server_code.click(on_code, [ctx.dataset, model, grid_state, cell_state, cell_code],
                      [grid_state, image, grid_img, code_info], show_progress="hidden", trigger_mode="always_last",
                      api_name="set_code")
    from_image.click(on_from_image, [ctx.dataset, model, ctx.current], set_outputs, show_progress="hidden")
    ctx.load_events.append((relist, [ctx.dataset, model], [model]))


TAB = Tab("sliders", "Latent sliders", build, css=TAB_FILES / "sliders.css", script=TAB_FILES / "sliders.js", config={"range": latent.SLIDER_RANGE})

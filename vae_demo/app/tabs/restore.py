"""Tab 1 — Corrupt & restore: wires the corruption controls, the model picker, the row and the image source.

Laid out for a projector: the row (original, corrupted, the chosen models) comes right under the
controls, each panel 7× its pixels with its name, PSNR and SSIM as page text; where the image comes from
(test images, upload, drawing) is below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from vae_demo.app.common import Context, as_tensor, explain, image_shape, safe, slider_moves
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.corruptions import KINDS, SEVERITY
from vae_demo.language import _
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import MAX_DRAWING_PIXELS, load_user_image
from vae_demo.services.restore import (
    KIND_LABELS,
    check_settings,
    default_models,
    default_severity,
    model_choices,
    restore_row,
    row_html,
    severity_range,
)

GALLERY_IMAGES = 15  # test images to click, three rows of five
PANEL_SCALE = 7  # 196 px for a 28×28 image, 224 px for a 32×32 one: pixel-sharp, and five fit 1280 px

EXPLAIN = r"""
**What you see.** A test image, the same image corrupted, and what the chosen models make of it
(pick more in *Models in the row*). A **plain autoencoder or VAE is not a denoiser**: it learned to copy
*clean* images through a small code $z = f(x)$, $\hat x = g(z)$, so a noisy input lands on some other
code, and its output is a clean-looking image that need not be this one. At mild noise it scores *below
the noisy input itself* (compare its PSNR with the corrupted panel's). A **denoising autoencoder**
(a *restorer*) was trained on pairs, corrupted in and clean out,
$$\min_{f,g}\; \mathbb{E}_{x,\tilde x}\,\lVert g(f(\tilde x)) - x\rVert^2 ,$$
and beats the input at every level; a tuned classical filter is the baseline to beat. PSNR
$=10\log_{10}\frac{1}{\mathrm{MSE}}$ (higher is better), SSIM (1 = identical structure), against the
original. **Blind**: the restorers see only the corrupted image. **Mask-aware** (tick the box): every
restorer in the row is also told which pixels were destroyed: learned outputs keep the untouched pixels,
an *inpainter* (trained with the mask as an input) is given the mask itself, and the classical restorer
becomes inpainting. The green frame only ever compares restorers given the same information.
"""


@dataclass
class RestoreUI:
    """The tab's components."""

    kind: gr.Radio
    mask_aware: gr.Checkbox
    severity: gr.Slider
    severity_reset: gr.Button  # ours, not Gradio's ↺: back to the chosen corruption's default
    models: gr.Dropdown
    pca_dims: gr.Slider
    row: gr.HTML
    note: gr.Markdown
    gallery: gr.Gallery
    source: gr.Markdown
    index: gr.Number
    rand: gr.Button
    seed: gr.Number
    upload: gr.UploadButton
    draw_tab: gr.Row
    sketch: gr.Sketchpad
    use_sketch: gr.Button
    summary: gr.Markdown
    picks: gr.State  # dataset -> the models this visitor chose for its row
    origin: gr.State  # how the row captions the original: test image #i, your upload, …


def _controls(ctx: Context) -> dict:
    """The corruption, its severity and the models in the row."""
    with gr.Row(equal_height=True):
        kind = gr.Radio([(KIND_LABELS[k], k) for k in KINDS], value="gaussian", label="Corruption", show_label=False,
                        elem_id="restore-kind", container=False, scale=4)
        mask_aware = gr.Checkbox(label="mask-aware", value=False, scale=0, min_width=150,
                                 elem_id="restore-mask-aware", container=False)
    with gr.Row(equal_height=True):
        lo, hi, step = severity_range("gaussian")
        # Gradio's own ↺ would go back to this first value (gaussian's 0.1) whatever the corruption: ours
        # goes to the chosen corruption's default and redraws the row
        severity = gr.Slider(lo, hi, value=default_severity("gaussian"), step=step, label=_("Severity ({what})", what=_(SEVERITY["gaussian"][0])),
                             elem_id="restore-severity", scale=2, buttons=[])
        severity_reset = gr.Button("↺", size="sm", scale=0, min_width=44, elem_id="restore-severity-reset")
        models = gr.Dropdown(model_choices(ctx.registry, ctx.start_dataset), multiselect=True,
                             value=default_models(ctx.registry, ctx.start_dataset), label="Models in the row",
                             elem_id="restore-models", scale=4)
        pca_dims = gr.Slider(1, 64, value=64, step=1, label="PCA: keep the first d components",
                             elem_id="restore-pca-dims", visible=False, scale=2)
    return {"kind": kind, "mask_aware": mask_aware, "severity": severity, "severity_reset": severity_reset,
            "models": models, "pca_dims": pca_dims}


def _test_images(ctx: Context) -> dict:
    gallery = gr.Gallery(label="Click a test image", columns=5, height=230, format="png", allow_preview=False,
                         elem_id="restore-gallery", show_label=False)
    source = gr.Markdown(ctx.images.describe(ctx.start_dataset), elem_id="restore-source")
    with gr.Row():
        index = gr.Number(label="Image #", value=0, precision=0, minimum=0, elem_id="restore-index")
        rand = gr.Button("Random test image", elem_id="restore-random")
        seed = gr.Number(label="Corruption seed", value=0, precision=0, elem_id="restore-seed")
    return {"gallery": gallery, "source": source, "index": index, "rand": rand, "seed": seed}


def _drawing(ctx: Context) -> dict:
    # the pad right under the row it feeds, the button beside it: on a 1280×720 screen a drawing and its
    # restorations are seen together
    with gr.Row(visible=image_shape(ctx.start_dataset)[1] == 28) as draw_tab:
        sketch = gr.Sketchpad(label="Draw with the mouse or a finger, then press “Use the drawing”",
                              show_label=False, type="numpy", canvas_size=(280, 280), height=300,
                              scale=3, min_width=290, elem_id="restore-sketch",
                              brush=gr.Brush(default_size=14, colors=["#000000"], color_mode="fixed"))
        with gr.Column(scale=1, min_width=130):
            gr.Markdown("Draw a digit or a garment with the mouse or a finger, then press")
            use_sketch = gr.Button("Use the drawing", elem_id="restore-use-sketch")
    gr.Markdown("Drawing is for the 28×28 datasets (mnist and fashion-mnist).", elem_classes="explain")
    return {"draw_tab": draw_tab, "sketch": sketch, "use_sketch": use_sketch}


def layout(ctx: Context) -> RestoreUI:
    parts = _controls(ctx)
    parts["row"] = gr.HTML("", elem_id="restore-row", elem_classes=["vd-main"], min_height=PANEL_SCALE * 28 + 70)
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            parts["note"] = gr.Markdown("", elem_id="restore-note")
            with gr.Tabs():
                with gr.Tab("Test images"):
                    parts.update(_test_images(ctx))
                with gr.Tab("Upload"):
                    parts["upload"] = gr.UploadButton("Upload an image file", file_count="single", type="filepath",
                                                      elem_id="restore-upload")
                    gr.Markdown("PNG, JPEG, GIF, BMP, WebP … any size: it is fitted to the model's size, "
                                "keeping its aspect ratio.")
                with gr.Tab("Draw"):
                    parts.update(_drawing(ctx))
        with gr.Column(scale=1, min_width=320):
            parts["summary"] = gr.Markdown("", elem_id="restore-summary")
            explain(EXPLAIN)
    return RestoreUI(**parts, picks=gr.State({}), origin=gr.State(_("test image #{i}", i=0)))


def _highlight(i):
    """The gallery's highlight follows the image, however it was picked (none when it is not shown)."""
    # (None would leave the old highlight: the page keeps its selection then; -1 is no thumbnail)
    return gr.update(selected_index=i if i is not None and 0 <= i < GALLERY_IMAGES else -1)


class RestoreHandlers:
    """The tab's handlers: plain calls into vae_demo.services, each returning its outputs by component."""

    def __init__(self, ctx: Context, ui: RestoreUI):
        self.ctx, self.ui = ctx, ui

    @safe
    def update_row(self, dataset, x, kind_, sev, seed_, mask, dims=None, chosen=None, origin=None):
        ui = self.ui
        if x is None:
            check_settings(dataset, kind_, sev, seed_, mask, dims)
            return {ui.row: "", ui.summary: _("Pick a test image, upload one, or draw one.")}
        panels, text = restore_row(self.ctx.registry, dataset, as_tensor(x, dataset), kind_, sev, seed_, mask,
                                   pca_dims=dims, models=chosen, source=origin)
        table = "\n".join([_("| panel | PSNR (dB) | SSIM | |"), "|---|---|---|---|"] + [
            f"| {p.name} | {p.psnr:.2f} | {p.ssim:.3f} | {p.how} |" for p in panels if p.psnr is not None])
        return {ui.row: row_html(panels, PANEL_SCALE * image_shape(dataset)[-1]), ui.summary: text + "\n\n" + table}

    def show(self, x, text, origin, i=None) -> dict:
        """The picked image, the line that says what it is, how the row's original is captioned, the highlight."""
        out = {self.ctx.current: x.numpy(), self.ui.note: text, self.ui.origin: origin,
               self.ui.gallery: _highlight(i)}
        return out if i is None else {**out, self.ui.index: i}

    def pca_visible(self, dataset, chosen):
        entries = self.ctx.registry.entries(dataset)
        return gr.update(visible=any(e.is_pca and e.name in (chosen or []) for e in entries))

    @safe
    def pick_index(self, dataset, i):
        x, i, label = self.ctx.images.image(dataset, i)
        s = self.ctx.images.get(dataset)
        return self.show(x, _("Input: test image #{i}, **{name}**", i=i, name=_(s.class_names[label])),
                         _("test image #{i}", i=i), i)

    @safe
    def pick_random(self, dataset, current):
        return self.pick_index(dataset, self.ctx.images.random_index(dataset, exclude=current))

    @safe
    def pick_gallery(self, dataset, evt: gr.EventData):  # not SelectData: an API call may come without event data
        data = evt._data if isinstance(evt._data, dict) else {}
        return self.pick_index(dataset, data.get("index"))

    @safe
    def from_upload(self, dataset, path):
        u = load_user_image(path, image_shape(dataset))
        gr.Info(_("Upload fitted: {note}", note=u.note))
        return self.show(u.x, _("Input: your upload ({note})", note=u.note), _("your upload"))

    @safe
    def from_sketch(self, dataset, value):
        empty = _("the canvas is empty: draw something on it first, then press “Use the drawing”")
        u = load_user_image(value, image_shape(dataset), max_pixels=MAX_DRAWING_PIXELS, missing=empty)
        if float(u.x.max()) < 0.05:  # nothing drawn: the image on screen stays
            raise UserInputError(empty)
        return self.show(u.x, _("Input: your drawing (inverted to white on black like the dataset)"),
                         _("your drawing"))

    def chosen_models(self, dataset, remembered) -> list:
        names = {v for _label, v in model_choices(self.ctx.registry, dataset)}
        return ([m for m in (remembered or {}).get(dataset, []) if m in names]
                or default_models(self.ctx.registry, dataset))

    def models_update(self, dataset, chosen):
        return gr.update(choices=model_choices(self.ctx.registry, dataset), value=chosen)

    @safe
    def test_images(self, dataset, remembered):
        """A dataset chosen: its gallery, the drawing pad where it fits, the models, and test image #0 shown."""
        ui, images = self.ui, self.ctx.images
        shape = image_shape(dataset)
        chosen = self.chosen_models(dataset, remembered)
        items = images.gallery(dataset, GALLERY_IMAGES)
        out = {ui.gallery: items, ui.source: images.describe(dataset), ui.draw_tab: gr.update(visible=shape[1] == 28),
               ui.models: self.models_update(dataset, chosen), ui.pca_dims: self.pca_visible(dataset, chosen)}
        if not items:
            return {**out, self.ctx.current: None, ui.note: (
                _("No {dataset} test images on this machine (see the banner at the top): upload an image or draw one.",
                  dataset=dataset) if shape[1] == 28 else
                _("No {dataset} test images on this machine (see the banner at the top): upload an image.",
                  dataset=dataset))}
        x, i, label = images.image(dataset, 0)
        name = _(images.get(dataset).class_names[label])
        shown = self.show(x, _("Input: test image #{i}, **{name}**", i=i, name=name), _("test image #{i}", i=i), i)
        shown.pop(ui.gallery)  # the gallery output is the plain list (the API's); its highlight comes after
        return {**out, **shown}

    @safe
    def on_models(self, dataset, chosen, remembered):
        """The visitor changed the row: remember it for this dataset."""
        remembered = dict(remembered or {})
        remembered[dataset] = list(chosen or [])
        return {self.ui.picks: remembered, self.ui.pca_dims: self.pca_visible(dataset, chosen)}

    @safe
    def on_models_changed(self, dataset, remembered):
        """A checkpoint was trained or rescanned: re-list the picker, keeping the visitor's choice."""
        return self.models_update(dataset, self.chosen_models(dataset, remembered))

    @safe
    def on_data_changed(self, dataset):
        """A background download brought in a whole test split: re-list the gallery, keep the image on screen."""
        return {self.ui.gallery: self.ctx.images.gallery(dataset, GALLERY_IMAGES),
                self.ui.source: self.ctx.images.describe(dataset)}

    @safe
    def choose_corruption(self, kind_, dataset):
        lo, hi, step = severity_range(kind_, image_shape(dataset)[-1])
        return gr.update(minimum=lo, maximum=hi, step=step, value=default_severity(kind_),
                         label=_("Severity ({what})", what=_(SEVERITY[kind_][0])))

    @safe
    def initial(self, dataset, remembered):
        """At page load: the dataset's images and a full row at once."""
        out = self.test_images(dataset, remembered)
        if out.get("__type__"):  # skipped: the dataset's message was shown
            return out
        x = out.get(self.ctx.current)
        if x is None:
            return {**out, self.ui.row: "", self.ui.summary: _("Pick a test image, upload one, or draw one.")}
        row = self.update_row(dataset, x, "gaussian", default_severity("gaussian"), 0, False, None,
                              self.chosen_models(dataset, remembered), out[self.ui.origin])
        return {**out, **row}


def wire(ctx: Context, ui: RestoreUI, h: RestoreHandlers) -> None:
    quiet = {"show_progress": "hidden"}
    row_inputs = [ctx.dataset, ctx.current, ui.kind, ui.severity, ui.seed, ui.mask_aware, ui.pca_dims, ui.models,
                  ui.origin]
    # the row's values reach restore_row as sent (preprocess=False): the service checks each one, the severity
    # against the chosen kind's own range (the slider's range in this session may still be another kind's: an
    # API caller need not choose the corruption first)
    redraw = {"fn": h.update_row, "inputs": row_inputs, "outputs": [ui.row, ui.summary], "preprocess": False}
    shown = [ctx.current, ui.note, ui.origin]
    picked = [*shown, ui.index, ui.gallery]
    ds_event = ctx.dataset.change(h.test_images, [ctx.dataset, ui.picks], [ui.gallery, ui.source, ui.draw_tab,
                                  ui.models, ui.pca_dims, *shown, ui.index], api_name="test_images",
                                  api_description="A dataset's gallery of test images (and test image #0 shown).",
                                  **quiet)
    ds_event.then(**redraw, **quiet)
    # the new dataset's gallery highlights image #0, the one now shown (its API output stays the plain list)
    ds_event.then(lambda: _highlight(0), None, ui.gallery, **quiet)
    ctx.data_version.change(h.on_data_changed, ctx.dataset, [ui.gallery, ui.source], **quiet)
    ctx.models_version.change(h.on_models_changed, [ctx.dataset, ui.picks], ui.models, **quiet).then(**redraw, **quiet)
    ui.models.input(h.on_models, [ctx.dataset, ui.models, ui.picks], [ui.picks, ui.pca_dims], **quiet).then(
        **redraw, **quiet)
    ui.gallery.select(h.pick_gallery, ctx.dataset, picked).then(**redraw)
    ui.rand.click(h.pick_random, [ctx.dataset, ui.index], picked, api_name="pick_random",
                  api_description="A random test image (not the one shown) as the row's input.").then(**redraw)
    ui.index.submit(h.pick_index, [ctx.dataset, ui.index], picked, api_name="pick_index",
                    api_description="Test image #i as the row's input.").then(**redraw)
    ui.upload.upload(h.from_upload, [ctx.dataset, ui.upload], [*shown, ui.gallery], api_name="from_upload",
                     api_description="An image file, fitted to the dataset's size, as the row's input.").then(**redraw)
    ui.use_sketch.click(h.from_sketch, [ctx.dataset, ui.sketch], [*shown, ui.gallery], api_name="from_sketch",
                        api_description="A drawing (the sketch pad's value) as the row's input.").then(**redraw)
    # a corruption chosen and the severity's ↺ take the same path: the kind's range and default, then the row
    ui.kind.change(h.choose_corruption, [ui.kind, ctx.dataset], ui.severity, api_name="choose_corruption",
                   api_description="A corruption chosen: its severity range and default.", **quiet).then(
        **redraw, **quiet)
    ui.severity_reset.click(h.choose_corruption, [ui.kind, ctx.dataset], ui.severity, **quiet).then(**redraw, **quiet)
    # live: every slider move re-runs the row (a drag, a typed number; the PCA slider's ↺ too: slider_moves; the
    # severity has our ↺ instead of Gradio's); always_last drops stale intermediate positions
    gr.on([ui.severity.input], **redraw, trigger_mode="always_last", concurrency_limit=None, api_name="restore",
          api_description="The row: dataset, corruption, severity, seed, mask-aware, PCA d, models → panels (HTML) "
                          "and their PSNR/SSIM.", **quiet)
    gr.on(slider_moves(ui.pca_dims), **redraw, trigger_mode="always_last", concurrency_limit=None, **quiet)
    for comp in (ui.seed, ui.mask_aware):
        comp.change(**redraw, trigger_mode="always_last", **quiet)
    # initial content, computed at load so the page shows a full row at once
    ctx.load_events.append((h.initial, [ctx.dataset, ui.picks], [ui.gallery, ui.source, ui.draw_tab, ui.models,
                                                                  ui.pca_dims, *shown, ui.index, ui.row, ui.summary]))


def build(ctx: Context) -> None:
    ui = layout(ctx)
    wire(ctx, ui, RestoreHandlers(ctx, ui))


# restore.js: the drawing pad opens with its brush picked
# the view in a link (web/viewstate.js), set in this order: the corruption first (it resets the severity)
STATE = [["restore-kind", "radio"], ["restore-severity", "slider"], ["restore-seed", "number"],
         ["restore-mask-aware", "checkbox"], ["restore-models", "multiselect"], ["restore-pca-dims", "slider"],
         ["restore-index", "number"]]
TAB = Tab("restore", "Corrupt & restore", build, css=TAB_FILES / "restore.css", script=TAB_FILES / "restore.js",
          config={"state": STATE})

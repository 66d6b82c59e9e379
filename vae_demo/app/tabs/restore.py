"""Tab 1 — Corrupt & restore: wires the corruption controls, the model picker, the row and the image source.

Laid out for a projector: the row (original, corrupted, the chosen models) comes right under the
controls, each panel 7× its pixels with its name, PSNR and SSIM as page text; where the image comes from
(test images, upload, drawing) is below it.
"""

from __future__ import annotations

import gradio as gr

from vae_demo.app.common import Context, as_tensor, explain, image_shape, safe, slider_moves
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.corruptions import KINDS, SEVERITY
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


def build(ctx: Context) -> None:
    default_dataset = ctx.start_dataset
    with gr.Row(equal_height=True):
        kind = gr.Radio([(KIND_LABELS[k], k) for k in KINDS], value="gaussian", label="Corruption", show_label=False,
                        elem_id="restore-kind", container=False, scale=4)
        mask_aware = gr.Checkbox(label="mask-aware", value=False, scale=0, min_width=150,
                                 elem_id="restore-mask-aware", container=False)
    with gr.Row(equal_height=True):
        lo, hi, step = severity_range("gaussian")
        # Gradio's own ↺ would go back to this first value (gaussian's 0.1) whatever the corruption: ours
        # goes to the chosen corruption's default and redraws the row
        severity = gr.Slider(lo, hi, value=default_severity("gaussian"), step=step, label="Severity (noise σ)",
                             elem_id="restore-severity", scale=2, buttons=[])
        severity_reset = gr.Button("↺", size="sm", scale=0, min_width=44, elem_id="restore-severity-reset")
        models = gr.Dropdown(model_choices(ctx.registry, default_dataset), multiselect=True,
                             value=default_models(ctx.registry, default_dataset), label="Models in the row",
                             elem_id="restore-models", scale=4)
        pca_dims = gr.Slider(1, 64, value=64, step=1, label="PCA: keep the first d components",
                             elem_id="restore-pca-dims", visible=False, scale=2)
    row = gr.HTML("", elem_id="restore-row", min_height=PANEL_SCALE * 28 + 70)
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            note = gr.Markdown("", elem_id="restore-note")
            with gr.Tabs():
                with gr.Tab("Test images"):
                    gallery = gr.Gallery(label="Click a test image", columns=5, height=230, format="png",
                                         allow_preview=False, elem_id="restore-gallery", show_label=False)
                    source = gr.Markdown(ctx.images.describe(default_dataset), elem_id="restore-source")
                    with gr.Row():
                        index = gr.Number(label="Image #", value=0, precision=0, minimum=0, elem_id="restore-index")
                        rand = gr.Button("Random test image", elem_id="restore-random")
                        seed = gr.Number(label="Corruption seed", value=0, precision=0, elem_id="restore-seed")
                with gr.Tab("Upload"):
                    upload = gr.UploadButton("Upload an image file", file_count="single", type="filepath",
                                             elem_id="restore-upload")
                    gr.Markdown("PNG, JPEG, GIF, BMP, WebP … any size: it is fitted to the model's size, "
                                "keeping its aspect ratio.")
                with gr.Tab("Draw"):
                    # the pad right under the row it feeds, the button beside it: on a 1280×720 screen
                    # a drawing and its restorations are seen together
                    with gr.Row(visible=image_shape(default_dataset)[1] == 28) as draw_tab:
                        sketch = gr.Sketchpad(label="Draw with the mouse or a finger, then press “Use the drawing”",
                                              show_label=False, type="numpy", canvas_size=(280, 280), height=300,
                                              scale=3, min_width=290, elem_id="restore-sketch",
                                              brush=gr.Brush(default_size=14, colors=["#000000"], color_mode="fixed"))
                        with gr.Column(scale=1, min_width=130):
                            gr.Markdown("Draw a digit or a garment with the mouse or a finger, then press")
                            use_sketch = gr.Button("Use the drawing", elem_id="restore-use-sketch")
                    gr.Markdown("Drawing is for the 28×28 datasets (mnist and fashion-mnist).", elem_classes="explain")
        with gr.Column(scale=1, min_width=320):
            summary = gr.Markdown("", elem_id="restore-summary")
            explain(EXPLAIN)
    picks = gr.State({})  # dataset -> the models this visitor chose for its row
    origin = gr.State("test image #0")  # how the row captions the original: test image #i, your upload, …

    # --- handlers: plain calls into vae_demo.services ---
    @safe
    def update_row(dataset, x, kind_, sev, seed_, mask, dims=None, chosen=None, origin=None):
        if x is None:
            check_settings(dataset, kind_, sev, seed_, mask, dims)
            return "", "Pick a test image, upload one, or draw one."
        panels, text = restore_row(ctx.registry, dataset, as_tensor(x, dataset), kind_, sev, seed_, mask,
                                   pca_dims=dims, models=chosen, source=origin)
        table = "\n".join(["| panel | PSNR (dB) | SSIM | |", "|---|---|---|---|"] + [
            f"| {p.name} | {p.psnr:.2f} | {p.ssim:.3f} | {p.how} |" for p in panels if p.psnr is not None])
        return row_html(panels, PANEL_SCALE * image_shape(dataset)[-1]), text + "\n\n" + table

    def _show(x, text, origin):
        """The picked image, the line that says what it is, and how the row's original is captioned."""
        return x.numpy(), text, origin

    def _highlight(i):
        """The gallery's highlight follows the image, however it was picked (none when it is not shown)."""
        # (None would leave the old highlight: the page keeps its selection then; -1 is no thumbnail)
        return gr.update(selected_index=i if i is not None and 0 <= i < GALLERY_IMAGES else -1)

    def _pca_visible(dataset, chosen):
        return gr.update(visible=any(e.is_pca and e.name in (chosen or []) for e in ctx.registry.entries(dataset)))

    @safe
    def pick_index(dataset, i):
        x, i, label = ctx.images.image(dataset, i)
        s = ctx.images.get(dataset)
        return (*_show(x, f"Input: test image #{i}, **{s.class_names[label]}**", f"test image #{i}"), i,
                _highlight(i))

    @safe
    def pick_random(dataset, current):
        return pick_index(dataset, ctx.images.random_index(dataset, exclude=current))

    @safe
    def pick_gallery(dataset, evt: gr.EventData):  # not SelectData: an API call may come without event data
        data = evt._data if isinstance(evt._data, dict) else {}
        return pick_index(dataset, data.get("index"))

    @safe
    def from_upload(dataset, path):
        u = load_user_image(path, image_shape(dataset))
        gr.Info(f"Upload fitted: {u.note}")
        return (*_show(u.x, f"Input: your upload ({u.note})", "your upload"), _highlight(None))

    @safe
    def from_sketch(dataset, value):
        empty = "the canvas is empty: draw something on it first, then press “Use the drawing”"
        u = load_user_image(value, image_shape(dataset), max_pixels=MAX_DRAWING_PIXELS, missing=empty)
        if float(u.x.max()) < 0.05:  # nothing drawn: the image on screen stays
            raise UserInputError(empty)
        return (*_show(u.x, "Input: your drawing (inverted to white on black like the dataset)", "your drawing"),
                _highlight(None))

    def _models_update(dataset, remembered):
        names = {v for _, v in model_choices(ctx.registry, dataset)}
        chosen = [m for m in (remembered or {}).get(dataset, []) if m in names] or default_models(ctx.registry, dataset)
        return gr.update(choices=model_choices(ctx.registry, dataset), value=chosen), chosen

    @safe
    def on_dataset(dataset, remembered):
        shape = image_shape(dataset)
        items = ctx.images.gallery(dataset, GALLERY_IMAGES)
        draw_visible = gr.update(visible=shape[1] == 28)
        about = ctx.images.describe(dataset)
        picker, chosen = _models_update(dataset, remembered)
        if items:
            x, i, label = ctx.images.image(dataset, 0)
            name = ctx.images.get(dataset).class_names[label]
            return (items, about, draw_visible, picker,
                    _pca_visible(dataset, chosen), *_show(x, f"Input: test image #{i}, **{name}**", f"test image #{i}"),
                    i)  # the image # box says which image the row shows
        return [], about, draw_visible, picker, _pca_visible(dataset, chosen), None, (
            f"No {dataset} test images on this machine (see the banner at the top): upload an image"
            + (" or draw one." if shape[1] == 28 else ".")), None, gr.skip()

    @safe
    def on_models(dataset, chosen, remembered):
        """The visitor changed the row: remember it for this dataset."""
        remembered = dict(remembered or {})
        remembered[dataset] = list(chosen or [])
        return remembered, _pca_visible(dataset, chosen)

    @safe
    def on_models_changed(dataset, remembered):
        """A checkpoint was trained or rescanned: re-list the picker, keeping the visitor's choice."""
        return _models_update(dataset, remembered)[0]

    @safe
    def on_data_changed(dataset):
        """A background download brought in a whole test split: re-list the gallery, keep the image on screen."""
        return ctx.images.gallery(dataset, GALLERY_IMAGES), ctx.images.describe(dataset)

    @safe
    def on_kind(kind_, dataset):
        lo, hi, step = severity_range(kind_, image_shape(dataset)[-1])
        return gr.update(minimum=lo, maximum=hi, step=step, value=default_severity(kind_),
                         label=f"Severity ({SEVERITY[kind_][0]})")

    row_inputs = [ctx.dataset, ctx.current, kind, severity, seed, mask_aware, pca_dims, models, origin]
    row_outputs = [row, summary]
    # the row's values reach restore_row as sent (preprocess=False): the service checks each one, the
    # severity against the chosen kind's own range (the slider's range in this session may still be
    # another kind's: an API caller need not choose the corruption first)
    raw = {"preprocess": False}
    shown = [ctx.current, note, origin]

    ds_event = ctx.dataset.change(on_dataset, [ctx.dataset, picks],
                                  [gallery, source, draw_tab, models, pca_dims, *shown, index], show_progress="hidden",
                                  api_name="test_images")
    ds_event.then(update_row, row_inputs, row_outputs, show_progress="hidden", **raw)
    # the new dataset's gallery highlights image #0, the one now shown (its API output stays the plain list)
    ds_event.then(lambda: _highlight(0), None, gallery, show_progress="hidden", api_visibility="private")
    ctx.data_version.change(on_data_changed, ctx.dataset, [gallery, source], show_progress="hidden")
    ctx.models_version.change(on_models_changed, [ctx.dataset, picks], models, show_progress="hidden").then(
        update_row, row_inputs, row_outputs, show_progress="hidden", **raw)
    models.input(on_models, [ctx.dataset, models, picks], [picks, pca_dims], show_progress="hidden").then(
        update_row, row_inputs, row_outputs, show_progress="hidden", **raw)
    picked = [*shown, index, gallery]
    gallery.select(pick_gallery, ctx.dataset, picked).then(update_row, row_inputs, row_outputs, **raw)
    rand.click(pick_random, [ctx.dataset, index], picked, api_name="pick_random").then(
        update_row, row_inputs, row_outputs, **raw)
    index.submit(pick_index, [ctx.dataset, index], picked).then(update_row, row_inputs, row_outputs, **raw)
    upload.upload(from_upload, [ctx.dataset, upload], [*shown, gallery]).then(update_row, row_inputs, row_outputs,
                                                                              **raw)
    use_sketch.click(from_sketch, [ctx.dataset, sketch], [*shown, gallery]).then(update_row, row_inputs, row_outputs,
                                                                                 **raw)
    # a corruption chosen and the severity's ↺ take the same path: the kind's range and default, then the row
    for trigger, api_name in ((kind.change, "choose_corruption"), (severity_reset.click, "reset_severity")):
        trigger(on_kind, [kind, ctx.dataset], severity, show_progress="hidden", api_name=api_name).then(
            update_row, row_inputs, row_outputs, show_progress="hidden", **raw)
    # live: every slider move re-runs the row (a drag, a typed number; the PCA slider's ↺ too: slider_moves; the
    # severity has our ↺ instead of Gradio's); always_last drops stale intermediate positions
    for moves, api_name in (([severity.input], "restore"), (slider_moves(pca_dims), "restore_pca")):
        gr.on(moves, update_row, row_inputs, row_outputs, show_progress="hidden",
              trigger_mode="always_last", concurrency_limit=None, api_name=api_name, **raw)
    for comp in (seed, mask_aware):
        comp.change(update_row, row_inputs, row_outputs, show_progress="hidden", trigger_mode="always_last", **raw)

    # initial content, computed at load so the page shows a full row at once
    def initial(dataset, remembered):
        out = on_dataset(dataset, remembered)
        if not isinstance(out, tuple) or out[5] is None:
            return (*out, "", "Pick a test image, upload one, or draw one.")
        chosen = _models_update(dataset, remembered)[1]
        rows = update_row(dataset, out[5], "gaussian", default_severity("gaussian"), 0, False, None, chosen, out[7])
        return (*out, *rows)

    ctx.load_events.append((initial, [ctx.dataset, picks],
                            [gallery, source, draw_tab, models, pca_dims, *shown, index, *row_outputs]))


# restore.js: the drawing pad opens with its brush picked
TAB = Tab("restore", "Corrupt & restore", build, css=TAB_FILES / "restore.css", script=TAB_FILES / "restore.js")

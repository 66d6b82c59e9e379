"""Tab 1 — Corrupt & restore: wires the picker, corruption controls and the result row."""

from __future__ import annotations

import gradio as gr

from vae_demo.corruptions import KINDS, SEVERITY
from vae_demo.services.images import display, load_user_image
from vae_demo.services.restore import KIND_LABELS, default_severity, restore_row, severity_range
from vae_demo.ui.common import Context, as_tensor, explain, image_shape, safe

EXPLAIN = r"""
**What you see.** A test image, the same image corrupted, and what every model makes of the corrupted
image. An autoencoder maps $x \mapsto z = f(x) \mapsto \hat x = g(z)$ through a small code $z$, so it can
only output images that look like its training data: noise and holes that do not fit are "projected
away". A **restorer** (a *denoising* autoencoder) was trained on pairs (corrupted → clean):
$$\min_{f,g}\; \mathbb{E}_{x,\tilde x}\,\lVert g(f(\tilde x)) - x\rVert^2 .$$
Captions give PSNR $=10\log_{10}\frac{1}{\mathrm{MSE}}$ (higher is better) and SSIM (1 = identical
structure) against the original. **Blind** models only see the corrupted image; **mask-aware** ones are
also told which pixels were destroyed (tick the box: learned outputs then keep the untouched pixels, and
a model trained with the mask as an input, such as an *inpainter*, is given the mask itself).
"""


def build(ctx: Context, default_dataset: str) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            picked = gr.Image(label="Input image", type="numpy", interactive=False, height=260,
                              format="png", elem_id="restore-input", buttons=[])
            note = gr.Markdown("", elem_id="restore-note")
            with gr.Tabs():
                with gr.Tab("Test images"):
                    gallery = gr.Gallery(label="Click a test image", columns=4, height=250, format="png",
                                         allow_preview=False, elem_id="restore-gallery", show_label=False)
                    source = gr.Markdown(ctx.images.describe(default_dataset), elem_id="restore-source")
                    with gr.Row():
                        index = gr.Number(label="Image #", value=0, precision=0, minimum=0, elem_id="restore-index")
                        rand = gr.Button("Random test image", elem_id="restore-random")
                with gr.Tab("Upload"):
                    upload = gr.UploadButton("Upload an image file", file_count="single", type="filepath",
                                             elem_id="restore-upload")
                    gr.Markdown("PNG, JPEG, GIF, BMP, WebP … any size: it is fitted to the model's size, "
                                "keeping its aspect ratio.")
                with gr.Tab("Draw"):
                    gr.Markdown("Draw a digit or a garment (for the 28×28 datasets, mnist and fashion-mnist).")
                    with gr.Column(visible=image_shape(default_dataset)[1] == 28) as draw_tab:
                        sketch = gr.Sketchpad(label="Pick the brush (left), draw, then press “Use the drawing”",
                                              type="numpy", canvas_size=(280, 280), height=340,
                                              elem_id="restore-sketch",
                                              brush=gr.Brush(default_size=14, colors=["#000000"], color_mode="fixed"))
                        use_sketch = gr.Button("Use the drawing", elem_id="restore-use-sketch")
        with gr.Column(scale=2):
            with gr.Row():
                kind = gr.Radio([(KIND_LABELS[k], k) for k in KINDS], value="gaussian", label="Corruption",
                                elem_id="restore-kind")
            with gr.Row():
                lo, hi, step = severity_range("gaussian")
                severity = gr.Slider(lo, hi, value=default_severity("gaussian"), step=step, label="Severity (noise σ)",
                                     elem_id="restore-severity")
                seed = gr.Number(label="Seed", value=0, precision=0, elem_id="restore-seed", scale=0, min_width=100)
                mask_aware = gr.Checkbox(label="mask-aware (keep untouched pixels)", value=False, scale=0,
                                         min_width=160)
            pca_dims = gr.Slider(1, 64, value=64, step=1, label="PCA: keep the first d components",
                                 elem_id="restore-pca-dims", visible=any(e.is_pca for e in ctx.registry.entries()))
            row = gr.Gallery(label="Original · corrupted · restorations", columns=5, height=520, format="png",
                             object_fit="contain", elem_id="restore-row", allow_preview=True)
            summary = gr.Markdown("", elem_id="restore-summary")
    explain(EXPLAIN)

    # --- handlers: plain calls into vae_demo.services ---
    @safe(2)
    def update_row(dataset, x, kind_, sev, seed_, mask, dims=None):
        if x is None:
            return [], "Pick a test image, upload one, or draw one."
        panels, text = restore_row(ctx.registry, dataset, as_tensor(x, dataset), kind_, sev, seed_, mask,
                                   pca_dims=dims)
        table = "\n".join(["| panel | PSNR (dB) | SSIM | |", "|---|---|---|---|"] + [
            f"| {p.name} | {p.psnr:.2f} | {p.ssim:.3f} | {p.how} |" for p in panels if p.psnr is not None])
        # numbers are written into the images (gallery captions get cut off on small screens)
        return [p.labelled() for p in panels], text + "\n\n" + table

    def _show(x, text):
        return x.numpy(), display(x[0], 256), text

    @safe(4)
    def pick_index(dataset, i):
        x, i, label = ctx.images.image(dataset, i)
        s = ctx.images.get(dataset)
        return (*_show(x, f"test image #{i}: **{s.class_names[label]}**"), i)

    @safe(4)
    def pick_random(dataset, current):
        return pick_index(dataset, ctx.images.random_index(dataset, exclude=current))

    @safe(4)
    def pick_gallery(dataset, evt: gr.SelectData):
        return pick_index(dataset, int(evt.index))

    @safe(3)
    def from_upload(dataset, path):
        u = load_user_image(path, image_shape(dataset))
        gr.Info(f"Upload fitted: {u.note}")
        return _show(u.x, f"uploaded image ({u.note})")

    @safe(3)
    def from_sketch(dataset, value):
        u = load_user_image(value, image_shape(dataset))
        if float(u.x.max()) < 0.05:
            return _show(u.x, "the canvas is empty: draw something first")
        return _show(u.x, "your drawing (inverted to white on black like the dataset)")

    @safe(6)
    def on_dataset(dataset):
        shape = image_shape(dataset)
        items = ctx.images.gallery(dataset, 16)
        draw_visible = gr.update(visible=shape[1] == 28)
        about = ctx.images.describe(dataset)
        if items:
            x, i, label = ctx.images.image(dataset, 0)
            name = ctx.images.get(dataset).class_names[label]
            return (items, about, draw_visible, *_show(x, f"test image #{i}: **{name}**"))
        return [], about, draw_visible, None, None, (
            f"No {dataset} test images on this machine (see the banner at the top): upload an image"
            + (" or draw one." if shape[1] == 28 else "."))

    @safe(2)
    def on_data_changed(dataset):
        """A background download brought in a whole test split: re-list the gallery, keep the image on screen."""
        return ctx.images.gallery(dataset, 16), ctx.images.describe(dataset)

    @safe(1)
    def on_kind(kind_, dataset):
        lo, hi, step = severity_range(kind_, image_shape(dataset)[-1])
        return gr.update(minimum=lo, maximum=hi, step=step, value=default_severity(kind_),
                         label=f"Severity ({SEVERITY[kind_][0]})")

    row_inputs = [ctx.dataset, ctx.current, kind, severity, seed, mask_aware, pca_dims]
    row_outputs = [row, summary]
    shown = [ctx.current, picked, note]

    ds_event = ctx.dataset.change(on_dataset, ctx.dataset, [gallery, source, draw_tab, *shown], show_progress="hidden",
                                  api_name="test_images")
    ctx.data_version.change(on_data_changed, ctx.dataset, [gallery, source], show_progress="hidden")
    ds_event.then(update_row, row_inputs, row_outputs, show_progress="hidden")
    gallery.select(pick_gallery, ctx.dataset, [*shown, index]).then(update_row, row_inputs, row_outputs)
    rand.click(pick_random, [ctx.dataset, index], [*shown, index], api_name="pick_random").then(update_row, row_inputs, row_outputs)
    index.submit(pick_index, [ctx.dataset, index], [*shown, index]).then(update_row, row_inputs, row_outputs)
    upload.upload(from_upload, [ctx.dataset, upload], shown).then(update_row, row_inputs, row_outputs)
    use_sketch.click(from_sketch, [ctx.dataset, sketch], shown).then(update_row, row_inputs, row_outputs)
    kind.change(on_kind, [kind, ctx.dataset], severity, show_progress="hidden", api_name="choose_corruption").then(
        update_row, row_inputs, row_outputs, show_progress="hidden")
    # live: every slider move re-runs the row; always_last drops stale intermediate positions
    for live, api_name in ((severity, "restore"), (pca_dims, "restore_pca")):
        live.input(update_row, row_inputs, row_outputs, show_progress="hidden", trigger_mode="always_last",
                   concurrency_limit=None, api_name=api_name)
    for comp in (seed, mask_aware):
        comp.change(update_row, row_inputs, row_outputs, show_progress="hidden", trigger_mode="always_last")
    ctx.models_version.change(update_row, row_inputs, row_outputs, show_progress="hidden")

    # initial content, computed at load so the page shows a full row at once
    def initial(dataset):
        out = on_dataset(dataset)
        if not isinstance(out, tuple) or out[3] is None:
            return (*out, [], "Pick a test image, upload one, or draw one.")
        rows = update_row(dataset, out[3], "gaussian", default_severity("gaussian"), 0, False)
        return (*out, *rows)

    ctx.load_events.append((initial, [ctx.dataset], [gallery, source, draw_tab, *shown, *row_outputs]))

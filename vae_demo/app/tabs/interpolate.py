"""Tab 4 — Interpolation: pixel blend vs latent linear vs latent spherical, and a GIF of the path."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr

from vae_demo.app.common import Context, as_tensor, explain, keep_in_page, safe
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.data import dataset_info
from vae_demo.services import latent, webdecode
from vae_demo.services.images import display, load_user_image, write_gif

EXPLAIN = r"""
**Two ways to go from A to B.** A *pixel* blend $x_t=(1-t)\,x_A+t\,x_B$ is a double exposure: halfway it
is neither. A *latent* path encodes both, moves between the codes and decodes every step, so each frame
is something the model thinks is a plausible image: $x_t = g\big((1-t)\,z_A + t\,z_B\big)$.
Under a Gaussian prior most probability mass sits on a shell of radius $\approx\sqrt{d}$, and the straight
line between two codes passes closer to the origin than either; **spherical** interpolation keeps the norm:
$$\mathrm{slerp}(z_A,z_B;t)=\frac{\sin((1-t)\Omega)}{\sin\Omega}z_A+\frac{\sin(t\Omega)}{\sin\Omega}z_B,
\qquad \cos\Omega=\frac{z_A\cdot z_B}{\lVert z_A\rVert\,\lVert z_B\rVert}.$$
**When do the two latent paths differ?** Only when the codes are far apart in angle: for codes of equal
length the linear midpoint's norm is $\cos(\Omega/2)$ of theirs, 0.97 at 30° (the strips look alike) but 0.71 at 90° and 0 for opposite
codes, where the straight line runs through the origin and decodes a washed-out "average" image. The
numbers under the strips say how far apart this pair is; images of different classes, and models with
a larger $z$, give larger angles.

**A discrete code (VQ-VAE)** is a grid of codebook *indices*: there is no point between code 17 and code
42, and averaging the indices means nothing (neighbouring numbers are unrelated vectors). So the path runs
through the encoder's vectors *before* quantisation, $z_e$, which are continuous:
$x_t = g\big(\mathrm{quantise}((1-t)\,z_{e,A} + t\,z_{e,B})\big)$. Each step snaps every cell to its nearest
code, so the frames change in jumps, cell by cell, rather than smoothly.
"""

GIF_DIR = Path(tempfile.gettempdir()) / "vae_demo_gifs"

# Steps N let go: draw in the page once more, then tell the server whether it did (the last input), so the
# server writes only the GIF and the numbers, or, when the page could not, the strips as well
RELEASE_JS = """
async (dataset, name, a, b, n, web) => {
  const D = window.vaeDecoder;
  return [dataset, name, a, b, n, D ? await D.paintPath(web, n) : false];
}
"""


def _prune_old_gifs(max_age_s: float = 3600) -> None:
    """GIFs are per request; drop ones older than an hour so a long-running Space does not fill up."""
    now = time.time()
    for p in GIF_DIR.glob("latent_path_*.gif"):
        try:
            if now - p.stat().st_mtime > max_age_s:
                p.unlink()
        except OSError:
            pass


def _end(end: str, index: int):
    """The controls of one end of the path: its image, a test image by number or class, an upload, and the
    image picked in the restore tab (where one can also be drawn)."""
    e = end.lower()
    # its name as a heading, not a label drawn over the picture; the controls stacked under it, compact
    gr.Markdown(f"**{end}**", elem_classes="interp-end-name")
    img = gr.Image(label=end, show_label=False, type="numpy", interactive=False, height=150, format="png",
                   buttons=[], elem_id=f"interp-{e}")
    idx = gr.Number(label="test image #", value=index, precision=0, minimum=0, elem_id=f"interp-{e}-index")
    cls = gr.Dropdown(label="or a random one of class", choices=[], elem_id=f"interp-{e}-class",
                      allow_custom_value=True)  # the class is checked by the service
    up = gr.UploadButton(f"Upload {end}", file_count="single", type="filepath", size="sm",
                         elem_id=f"interp-{e}-upload")
    cur = gr.Button(f"{end} = picked in “Corrupt & restore”", size="sm")
    return img, idx, cls, up, cur


def build(ctx: Context) -> None:
    # on a 1280×720 screen the three strips (the picture) start at the top of the tab, beside the controls
    with gr.Row():
        with gr.Column(scale=1, min_width=400):
            # custom values: API callers may name any model (the registry checks it, with a clear message)
            model = gr.Dropdown(label="Model", choices=[], elem_id="interp-model",
                                allow_custom_value=True)
            steps = gr.Slider(2, 24, value=8, step=1, label="Steps N", elem_id="interp-steps")
            with gr.Row():
                go = gr.Button("Interpolate", variant="primary", elem_id="interp-go", min_width=120)
                rand = gr.Button("Random pair", elem_id="interp-random", min_width=120)
            with gr.Row():
                with gr.Column(min_width=150):
                    a_img, a_idx, a_cls, a_up, a_cur = _end("A", 0)
                with gr.Column(min_width=150):
                    b_img, b_idx, b_cls, b_up, b_cur = _end("B", 1)
        with gr.Column(scale=2, elem_id="interp-strips"):
            # each strip's name as a heading, not a label drawn over its first frames
            gr.Markdown("**pixel blend** $(1-t)\\,x_A + t\\,x_B$",
                        latex_delimiters=[{"left": "$", "right": "$", "display": False}])
            pixel = gr.Image(label="pixel blend", show_label=False, type="numpy", interactive=False, format="png",
                             buttons=[], elem_id="interp-pixel")
            gr.Markdown("**latent, linear**")
            lin = gr.Image(label="latent, linear", show_label=False, type="numpy", interactive=False, format="png",
                           buttons=[], elem_id="interp-linear")
            gr.Markdown("**latent, spherical (slerp)**")
            sph = gr.Image(label="latent, spherical (slerp)", show_label=False, type="numpy", interactive=False,
                           format="png", buttons=[], elem_id="interp-slerp")
    with gr.Row():
        gif = gr.Image(label="latent path, animated", type="filepath", interactive=False, height=240,
                       buttons=[], elem_id="interp-gif")
        download = gr.DownloadButton("Download the GIF", value=None, elem_id="interp-download")
        info = gr.Markdown("", elem_id="interp-info")
    gr.HTML('<span id="interp-where"></span>', elem_classes="explain", padding=False)
    web = gr.JSON(None, elem_id="interp-web", show_label=False)  # webdecode.page_path; hidden by CSS
    explain(EXPLAIN)
    xa = gr.State(None)
    xb = gr.State(None)

    @safe
    def by_index(dataset, i):
        x, _, _ = ctx.images.image(dataset, i)
        return x.numpy(), display(x[0], 160)

    @safe
    def by_class(dataset, label):
        if label is None or label == "":
            return gr.skip(), gr.skip(), gr.skip()
        i = ctx.images.random_index(dataset, label=label)  # the service checks the class
        x, i, _ = ctx.images.image(dataset, i)
        return x.numpy(), display(x[0], 160), i

    @safe
    def random_pair(dataset):
        i = ctx.images.random_index(dataset)
        j = ctx.images.random_index(dataset, exclude=i)  # two different images
        a, b = by_index(dataset, i), by_index(dataset, j)
        return (*a, i, *b, j)

    @safe
    def from_current(dataset, x):
        t = as_tensor(x, dataset)
        return t.numpy(), display(t[0], 160)

    @safe
    def from_upload(dataset, path):
        u = load_user_image(path, dataset_info(dataset).image_shape)
        gr.Info(f"Upload fitted: {u.note}")
        return u.x.numpy(), display(u.x[0], 160)

    @safe
    def run(dataset, name, x_a, x_b, n, page_drew=False):
        """The strips, the GIF, the numbers and what the page needs to redraw the strips itself; when the
        page has already drawn the strips (``page_drew`` True, after Steps N is let go), not the strips."""
        e = ctx.registry.get(name, dataset, latent_code=True)
        ta, tb = as_tensor(x_a, dataset), as_tensor(x_b, dataset)
        rows = latent.interpolate(e, ta, tb, n)
        GIF_DIR.mkdir(parents=True, exist_ok=True)
        _prune_old_gifs()
        path = write_gif(latent.gif_frames(rows["slerp"]), GIF_DIR / f"latent_path_{uuid.uuid4().hex[:10]}.gif",
                         bounce=False)
        d = latent.path_difference(e, ta, tb, rows)
        alike = d["max_pixel_diff"] < 0.1
        text = (f"{len(rows['linear'])} steps with {e.name}. The codes are **{d['angle_deg']:.0f}° apart**: the "
                f"linear path's midpoint has **{d['midpoint_norm']:.2f}×** their norm, and the two latent paths "
                f"differ by at most {d['max_pixel_diff']:.2f} in pixel value"
                + (" (so they look alike here)." if alike else ".")
                + " The GIF plays the spherical path, one frame per step."
                + (" This model's code is discrete: both paths move the encoder's vectors before quantisation and "
                   "snap each step to the nearest codes, so frames change cell by cell." if e.model.discrete else ""))
        strips = (gr.skip(),) * 3 if page_drew is True else tuple(
            latent.path_strip(rows[k]) for k in ("pixel", "linear", "slerp"))
        return (*strips, str(path), gr.update(value=str(path)), text, webdecode.page_path(e, ta, tb))

    @safe
    def on_dataset(dataset):
        names = dataset_info(dataset).class_names
        choices = [(n, i) for i, n in enumerate(names)]
        return gr.update(choices=choices, value=None), gr.update(choices=choices, value=None)

    def relist(dataset, current):
        return ctx.model_dropdown_update(dataset, current)

    outs = [pixel, lin, sph, gif, download, info, web]
    run_inputs = [ctx.dataset, model, xa, xb, steps]
    gr.on(ctx.model_triggers(), safe(relist), [ctx.dataset, model], model, show_progress="hidden")
    # a new A or B, however it is picked, redraws the strips, the GIF and the numbers for the new pair (and
    # gives the page the new codes for Steps N): the strips never show another pair than A and B
    ends = [(a_idx.submit, by_index, a_idx, [xa, a_img]), (b_idx.submit, by_index, b_idx, [xb, b_img]),
            (a_cls.input, by_class, a_cls, [xa, a_img, a_idx]), (b_cls.input, by_class, b_cls, [xb, b_img, b_idx]),
            (a_cur.click, from_current, ctx.current, [xa, a_img]), (b_cur.click, from_current, ctx.current, [xb, b_img]),
            (a_up.upload, from_upload, a_up, [xa, a_img]), (b_up.upload, from_upload, b_up, [xb, b_img]),
            (rand.click, random_pair, None, [xa, a_img, a_idx, xb, b_img, b_idx])]
    for trigger, fn, value, targets in ends:
        trigger(fn, [ctx.dataset] + ([value] if value is not None else []), targets).success(run, run_inputs, outs)
    go.click(run, run_inputs, outs)
    web.change(None, web, None, js=keep_in_page("vaeInterpWeb"))  # Steps N dragged draws with it
    steps.release(run, [*run_inputs, web], outs, js=RELEASE_JS, show_progress="hidden", trigger_mode="always_last")

    def initial(dataset, i, j, current, n):
        if ctx.images.get(dataset) is None:  # offline: nothing to show yet, and no warning at page load
            return (relist(dataset, current), *on_dataset(dataset), *(gr.skip() for _ in range(4 + len(outs))))
        a, b = by_index(dataset, i), by_index(dataset, j)
        models = relist(dataset, current)
        name = models.get("value") if isinstance(models, dict) else None
        result = run(dataset, name, a[0], b[0], n) if name and a[0] is not None and b[0] is not None \
            else tuple(gr.skip() for _ in outs)
        return (models, *on_dataset(dataset), *a, *b, *result)

    initial_outputs = [model, a_cls, b_cls, xa, a_img, xb, b_img, *outs]
    ctx.dataset.change(initial, [ctx.dataset, a_idx, b_idx, model, steps], initial_outputs)
    ctx.load_events.append((initial, [ctx.dataset, a_idx, b_idx, model, steps], initial_outputs))


TAB = Tab("interpolate", "Interpolation", build, css=TAB_FILES / "interpolate.css", script=TAB_FILES / "interpolate.js")

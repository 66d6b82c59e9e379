"""Tab 4 — Interpolation: pixel blend vs latent linear vs latent spherical, and a GIF of the path."""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from vae_demo.app.common import Context, as_tensor, explain, keep_in_page, safe
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.data import dataset_info
from vae_demo.language import _
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

def _prune_old_gifs(max_age_s: float = 3600) -> None:
    """GIFs are per request; drop ones older than an hour so a long-running Space does not fill up."""
    now = time.time()
    for p in GIF_DIR.glob("latent_path_*.gif"):
        try:
            if now - p.stat().st_mtime > max_age_s:
                p.unlink()
        except OSError:
            pass


@dataclass
class End:
    """The controls of one end of the path (A or B)."""

    x: gr.State  # its image, numpy (1, C, H, W)
    img: gr.Image
    idx: gr.Number
    cls: gr.Dropdown
    up: gr.UploadButton
    cur: gr.Button


@dataclass
class InterpUI:
    """The tab's components."""

    model: gr.Dropdown
    steps: gr.Slider
    go: gr.Button
    rand: gr.Button
    a: End
    b: End
    pixel: gr.Image
    lin: gr.Image
    sph: gr.Image
    gif: gr.Image
    download: gr.DownloadButton
    info: gr.Markdown
    web: gr.JSON  # webdecode.page_path: both codes, for the page to draw the strips; hidden by CSS

    @property
    def outs(self) -> list:
        return [self.pixel, self.lin, self.sph, self.gif, self.download, self.info, self.web]


def _end(end: str, index: int) -> End:
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
    return End(gr.State(None), img, idx, cls, up, cur)


def _strips() -> dict:
    # each strip's name as a heading, not a label drawn over its first frames
    gr.Markdown("**pixel blend** $(1-t)\\,x_A + t\\,x_B$", latex_delimiters=[{"left": "$", "right": "$", "display": False}])
    pixel = gr.Image(label="pixel blend", show_label=False, type="numpy", interactive=False, format="png",
                     buttons=[], elem_id="interp-pixel", elem_classes=["vd-main"])
    gr.Markdown("**latent, linear**")
    lin = gr.Image(label="latent, linear", show_label=False, type="numpy", interactive=False, format="png",
                   buttons=[], elem_id="interp-linear", elem_classes=["vd-main"])
    gr.Markdown("**latent, spherical (slerp)**")
    sph = gr.Image(label="latent, spherical (slerp)", show_label=False, type="numpy", interactive=False,
                   format="png", buttons=[], elem_id="interp-slerp", elem_classes=["vd-main"])
    return {"pixel": pixel, "lin": lin, "sph": sph}


def layout() -> InterpUI:
    # on a 1280×720 screen the three strips (the picture) start at the top of the tab, beside the controls
    with gr.Row():
        with gr.Column(scale=1, min_width=400):
            # custom values: API callers may name any model (the registry checks it, with a clear message)
            model = gr.Dropdown(label="Model", choices=[], elem_id="interp-model", allow_custom_value=True)
            steps = gr.Slider(2, 24, value=8, step=1, label="Steps N", elem_id="interp-steps")
            with gr.Row():
                go = gr.Button("Interpolate", variant="primary", elem_id="interp-go", min_width=120)
                rand = gr.Button("Random pair", elem_id="interp-random", min_width=120)
            with gr.Row():
                with gr.Column(min_width=150):
                    a = _end("A", 0)
                with gr.Column(min_width=150):
                    b = _end("B", 1)
        with gr.Column(scale=2, elem_id="interp-strips"):
            strips = _strips()
    with gr.Row():
        gif = gr.Image(label="latent path, animated", type="filepath", interactive=False, height=240,
                       buttons=[], elem_id="interp-gif")
        download = gr.DownloadButton("Download the GIF", value=None, elem_id="interp-download")
        info = gr.Markdown("", elem_id="interp-info")
    gr.HTML('<span id="interp-where"></span>', elem_classes="explain", padding=False)
    web = gr.JSON(None, elem_id="interp-web", show_label=False)
    explain(EXPLAIN)
    return InterpUI(model, steps, go, rand, a, b, gif=gif, download=download, info=info, web=web, **strips)


def path_text(e, rows, d) -> str:
    """What the numbers say about the two latent paths."""
    alike = d["max_pixel_diff"] < 0.1
    return (_("{n} steps with {name}. The codes are **{angle:.0f}° apart**: the linear path's midpoint has "
              "**{norm:.2f}×** their norm, and the two latent paths differ by at most {diff:.2f} in pixel value",
              n=len(rows["linear"]), name=e.name, angle=d["angle_deg"], norm=d["midpoint_norm"],
              diff=d["max_pixel_diff"])
            + (_(" (so they look alike here).") if alike else ".")
            + _(" The GIF plays the spherical path, one frame per step.")
            + (_(" This model's code is discrete: both paths move the encoder's vectors before quantisation and "
                 "snap each step to the nearest codes, so frames change cell by cell.") if e.model.discrete else ""))


class InterpHandlers:
    """The tab's handlers; each returns its outputs by component."""

    def __init__(self, ctx: Context, ui: InterpUI):
        self.ctx, self.ui = ctx, ui

    @staticmethod
    def shown(end: End, x, idx=None) -> dict:
        out = {end.x: x.numpy(), end.img: display(x[0], 160)}
        return out if idx is None else {**out, end.idx: idx}

    def end_handlers(self, end: End) -> dict:
        """For one end: its image by number, by class, from the restore tab, or from an upload."""
        images = self.ctx.images

        @safe
        def by_index(dataset, i):
            x, _i, _label = images.image(dataset, i)
            return self.shown(end, x)

        @safe
        def by_class(dataset, label):
            if label is None or label == "":
                return gr.skip()
            i = images.random_index(dataset, label=label)  # the service checks the class
            x, i, _label = images.image(dataset, i)
            return self.shown(end, x, i)

        @safe
        def from_current(dataset, x):
            return self.shown(end, as_tensor(x, dataset))

        @safe
        def from_upload(dataset, path):
            u = load_user_image(path, dataset_info(dataset).image_shape)
            gr.Info(_("Upload fitted: {note}", note=u.note))
            return self.shown(end, u.x)

        return {"by_index": by_index, "by_class": by_class, "from_current": from_current, "from_upload": from_upload}

    @safe
    def random_pair(self, dataset):
        images = self.ctx.images
        i = images.random_index(dataset)
        j = images.random_index(dataset, exclude=i)  # two different images
        return {**self.shown(self.ui.a, images.image(dataset, i)[0], i),
                **self.shown(self.ui.b, images.image(dataset, j)[0], j)}

    @safe
    def run(self, dataset, name, x_a, x_b, n, page_drew=False):
        """The strips, the GIF, the numbers and what the page needs to redraw the strips itself; when the
        page has already drawn the strips (``page_drew`` True, after Steps N is let go), not the strips."""
        ui = self.ui
        e = self.ctx.registry.get(name, dataset, latent_code=True)
        ta, tb = as_tensor(x_a, dataset), as_tensor(x_b, dataset)
        rows = latent.interpolate(e, ta, tb, n)
        GIF_DIR.mkdir(parents=True, exist_ok=True)
        _prune_old_gifs()
        path = write_gif(latent.gif_frames(rows["slerp"]), GIF_DIR / f"latent_path_{uuid.uuid4().hex[:10]}.gif",
                         bounce=False)
        out = {ui.gif: str(path), ui.download: gr.update(value=str(path)),
               ui.info: path_text(e, rows, latent.path_difference(e, ta, tb, rows)),
               ui.web: webdecode.page_path(e, ta, tb)}
        if page_drew is not True:
            out.update({ui.pixel: latent.path_strip(rows["pixel"]), ui.lin: latent.path_strip(rows["linear"]),
                        ui.sph: latent.path_strip(rows["slerp"])})
        return out

    def classes(self, dataset) -> dict:
        names = dataset_info(dataset).class_names
        choices = [(n, i) for i, n in enumerate(names)]
        return {self.ui.a.cls: gr.update(choices=choices, value=None), self.ui.b.cls: gr.update(choices=choices,
                                                                                               value=None)}

    @safe
    def relist(self, dataset, current):
        return self.ctx.model_dropdown_update(dataset, current)

    @safe
    def initial(self, dataset, i, j, current, n):
        """A dataset (or the page) opened: the models, the classes, A and B by number and their path."""
        ui = self.ui
        models = self.ctx.model_dropdown_update(dataset, current)
        out = {ui.model: models, **self.classes(dataset)}
        if self.ctx.images.get(dataset) is None:  # offline: nothing to show yet, and no warning at page load
            return out
        images = self.ctx.images
        out.update({**self.shown(ui.a, images.image(dataset, i)[0]), **self.shown(ui.b, images.image(dataset, j)[0])})
        name = models.get("value") if isinstance(models, dict) else None
        if name:
            path = self.run(dataset, name, out[ui.a.x], out[ui.b.x], n)
            if path.get("__type__") is None:  # not a skip: the path was drawn
                out.update(path)
        return out


def wire(ctx: Context, ui: InterpUI, h: InterpHandlers) -> None:
    run_inputs = [ctx.dataset, ui.model, ui.a.x, ui.b.x, ui.steps]
    gr.on(ctx.model_triggers(), h.relist, [ctx.dataset, ui.model], ui.model, show_progress="hidden")
    # a new A or B, however it is picked, redraws the strips, the GIF and the numbers for the new pair (and
    # gives the page the new codes for Steps N): the strips never show another pair than A and B
    for end in (ui.a, ui.b):
        fns = h.end_handlers(end)
        for trigger, fn, value, targets in [(end.idx.submit, fns["by_index"], end.idx, [end.x, end.img]),
                                            (end.cls.input, fns["by_class"], end.cls, [end.x, end.img, end.idx]),
                                            (end.cur.click, fns["from_current"], ctx.current, [end.x, end.img]),
                                            (end.up.upload, fns["from_upload"], end.up, [end.x, end.img])]:
            trigger(fn, [ctx.dataset, value], targets).success(h.run, run_inputs, ui.outs)
    pair = [ui.a.x, ui.a.img, ui.a.idx, ui.b.x, ui.b.img, ui.b.idx]
    ui.rand.click(h.random_pair, ctx.dataset, pair).success(h.run, run_inputs, ui.outs)
    ui.go.click(h.run, run_inputs, ui.outs)
    ui.web.change(None, ui.web, None, js=keep_in_page("vaeInterpWeb"))  # Steps N dragged draws with it
    # Steps N let go: the page draws once more and says whether it did (interpolate.js released), so the server
    # writes only the GIF and the numbers, or, when the page could not, the strips as well
    ui.steps.release(h.run, [*run_inputs, ui.web], ui.outs, js="(...a) => window.vaeDemo.interpolate.released(...a)",
                     show_progress="hidden", trigger_mode="always_last")
    initial_outputs = [ui.model, ui.a.cls, ui.b.cls, ui.a.x, ui.a.img, ui.b.x, ui.b.img, *ui.outs]
    ctx.dataset.change(h.initial, [ctx.dataset, ui.a.idx, ui.b.idx, ui.model, ui.steps], initial_outputs)
    ctx.load_events.append((h.initial, [ctx.dataset, ui.a.idx, ui.b.idx, ui.model, ui.steps], initial_outputs))


def build(ctx: Context) -> None:
    ui = layout()
    wire(ctx, ui, InterpHandlers(ctx, ui))


# the view in a link: the model, Steps N, both ends by test image #, then Interpolate pressed
STATE = [["interp-model", "dropdown"], ["interp-steps", "slider"], ["interp-a-index", "number"],
         ["interp-b-index", "number"], ["interp-go", "click"]]
TAB = Tab("interpolate", "Interpolation", build, css=TAB_FILES / "interpolate.css",
          script=TAB_FILES / "interpolate.js", config={"state": STATE})

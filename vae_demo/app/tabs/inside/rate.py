"""Inside a VAE — β and the rate–distortion plane: a family of VAEs that differ only in β, each a point (rate,
distortion); a click on a point shows that model's reconstructions, prior samples, KL per dim and traversals."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from vae_demo.app.common import LATEX, Context, safe
from vae_demo.app.figures import rate as figures
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.language import _
from vae_demo.services import rate

TEXT = r"""**What β does: the rate–distortion plane** (Alemi et al. 2018). A VAE's loss is $D + \beta R$: the
*distortion* $D = -\log p(x\mid z)$ (how badly the image comes back) plus β times the *rate*
$R = \mathrm{KL}(q(z\mid x)\,\Vert\,p(z))$ (nats the code holds about the image). Each point is one VAE of the same
architecture trained with another β, measured on the same test images; on a dashed line $D + R$ is constant,
one ELBO. A small β buys sharp reconstructions with a code that holds a lot (far right); a large β squeezes the
code (left) and the images blur. Dims the code no longer uses collapse onto the prior (KL ≈ 0): fewer are active
as β grows. Click a point (or pick its β) for that model."""


@dataclass
class RateUI:
    pick: gr.Radio
    plane: gr.Plot
    kl: gr.Plot
    summary: gr.Markdown
    recon: gr.Image
    samples: gr.Image
    traversal: gr.Image
    traversal_head: gr.Markdown

    @property
    def outs(self) -> list:
        return [self.plane, self.kl, self.summary, self.recon, self.samples, self.traversal, self.traversal_head]


def _picture(head: str, elem_id: str) -> gr.Image:
    gr.Markdown(f"**{head}**", elem_id=f"{elem_id}-head")
    return gr.Image(label=head, show_label=False, type="numpy", interactive=False, format="png", buttons=[],
                    elem_id=elem_id)


def layout() -> RateUI:
    gr.Markdown(TEXT, latex_delimiters=LATEX, elem_id="rate-explain")
    with gr.Row():
        with gr.Column(scale=3, min_width=360):
            plane = gr.Plot(show_label=False, elem_id="rate-plane")
        with gr.Column(scale=2, min_width=300):
            pick = gr.Radio(choices=[], label="Model of the family (β)", elem_id="rate-model")
            summary = gr.Markdown("", elem_id="rate-summary")
            kl = gr.Plot(show_label=False, elem_id="rate-kl")
    with gr.Row():
        with gr.Column(min_width=300):
            recon = _picture("test images (top) and their reconstructions (bottom)", "rate-recon")
        with gr.Column(min_width=300):
            samples = _picture("samples from the prior, z ~ N(0, I) (the same z for every β)", "rate-samples")
    traversal_head = gr.Markdown("", elem_id="rate-traversal-head")
    traversal = gr.Image(label="traversals", show_label=False, type="numpy", interactive=False, format="png",
                         buttons=[], elem_id="rate-traversal")
    return RateUI(pick, plane, kl, summary, recon, samples, traversal, traversal_head)


class RateHandlers:
    def __init__(self, ctx: Context, ui: RateUI):
        self.ctx, self.ui = ctx, ui

    def family(self, dataset):
        return rate.beta_family(self.ctx.registry.entries(dataset, latent_code=True))

    @safe
    def relist(self, dataset, current):
        fam = self.family(dataset)
        names = [e.name for e in fam]
        value = current if current in names else next((e.name for e in fam if e.beta == 1.0), names[0] if names
                                                      else None)
        return gr.update(choices=[(f"β = {e.beta:g}", e.name) for e in fam], value=value,
                         info=_("{n} VAEs of one architecture, β from {lo:g} to {hi:g}: {kind}, z = {d}", n=len(fam),
                                lo=fam[0].beta, hi=fam[-1].beta, kind=fam[0].kind, d=fam[0].latent_dim) if fam else
                         _("no VAEs of one architecture at several β for {dataset}: train some (Train tab: the same "
                           "settings, another β)", dataset=dataset))

    @safe
    def show(self, dataset, name):
        ui = self.ui
        fam = self.family(dataset)
        e = next((f for f in fam if f.name == name), None)
        if e is None:
            return {o: None for o in ui.outs} | {ui.summary: "", ui.traversal_head: ""}
        points = [rate.point(f, self.ctx.images) for f in fam]
        p = points[fam.index(e)]
        grid, dims = rate.traversal(e, p)
        return {ui.plane: figures.plane_figure(points, e.name), ui.kl: figures.kl_figure(p),
                ui.summary: _("**β = {beta:g}** (`{name}`): rate **{r:.1f}** nats, distortion **{d:.1f}** nats, "
                              "−ELBO = D + R = {s:.1f}; **{a}** of {n} dims active; on {k} test images "
                              "(one z per image).", beta=p.beta, name=e.name, r=p.rate,
                              d=p.distortion, s=p.rate + p.distortion, a=p.active, n=len(p.kl_per_dim), k=p.images),
                ui.recon: rate.reconstructions(e, self.ctx.images), ui.samples: rate.prior_samples(e),
                ui.traversal: grid,
                ui.traversal_head: _("**Traversals of the {n} dims with the most KL** ({dims}): a row each, that dim "
                                     "from −3 to +3 and every other at 0", n=len(dims),
                                     dims=", ".join(f"z[{d}]" for d in dims))}


def build(ctx: Context) -> None:
    ui = layout()
    h = RateHandlers(ctx, ui)
    quiet = {"show_progress": "hidden"}
    gr.on(ctx.model_triggers(), h.relist, [ctx.dataset, ui.pick], ui.pick, **quiet)
    ui.pick.change(h.show, [ctx.dataset, ui.pick], ui.outs, show_progress="minimal")
    ctx.load_events.append((h.relist, [ctx.dataset, ui.pick], [ui.pick]))


VIEW = Tab("inside-rate", "β and the rate–distortion plane", build, script=TAB_FILES / "inside_rate.js",
           config={"state": [["rate-model", "radio"]]})

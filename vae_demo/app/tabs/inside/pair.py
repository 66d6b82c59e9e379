"""Inside a VAE — an autoencoder and a VAE of the same latent size, side by side."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from vae_demo.app.common import LATEX, Context, safe
from vae_demo.app.figures import inside as inside_figures
from vae_demo.app.figures import latent as latent_figures
from vae_demo.app.registry import Tab
from vae_demo.data import dataset_info
from vae_demo.language import N_, _
from vae_demo.services import inside, latent
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import display, grid

TEXT = r"""**Autoencoder vs VAE, same images, same latent size.** The VAE's KL term pulls its codes towards
N(0, 1) (histograms), so the same random points $z \sim \mathcal N(0, I)$, decoded by both below, look like data
for the VAE; the autoencoder's codes live wherever training put them (at z = 2 see its axes), and at z = 16 most
N(0, I) points fall where it has none and decode to nonsense."""

AE_MAP, VAE_MAP = N_("autoencoder: test codes"), N_("VAE: test codes")  # shown through _()


@dataclass
class PairUI:
    none: gr.Markdown  # instead of the pictures: why there are none
    body: gr.Column  # hidden, and emptied, where the dataset has no pair
    ae_map: gr.Plot
    vae_map: gr.Plot
    size: gr.Radio
    hist: gr.Plot
    ae_draws: gr.Image
    vae_draws: gr.Image
    redraw: gr.Button
    info: gr.Markdown
    seed: gr.State

    @property
    def outs(self) -> list:
        return [self.ae_map, self.vae_map, self.ae_draws, self.vae_draws, self.hist, self.info]


def _draws(kind: str, head: str) -> gr.Image:
    with gr.Column():  # a heading above the draws, none over them
        gr.Markdown(head, elem_id=f"pair-{kind}-draws-head")
        return gr.Image(label=head.replace("*", ""), show_label=False, type="numpy", interactive=False, height=135,
                        format="png", buttons=[], elem_id=f"pair-{kind}-draws")


def layout() -> PairUI:
    gr.Markdown(TEXT, latex_delimiters=LATEX, elem_id="pair-explain")
    none = gr.Markdown("", visible=False, elem_id="pair-none")
    with gr.Column(elem_id="pair-body") as body:
        with gr.Row():
            ae_map = gr.Plot(label=AE_MAP, elem_id="pair-ae-map")
            vae_map = gr.Plot(label=VAE_MAP, elem_id="pair-vae-map")
            with gr.Column(min_width=300):
                size = gr.Radio([], label="latent size", show_label=False, container=False, elem_id="pair-size")
                hist = gr.Plot(label="codes per dim against N(0, 1)", elem_id="pair-hist")
        with gr.Row():
            ae_draws = _draws("ae", "**autoencoder**: decoded N(0, I) draws")
            vae_draws = _draws("vae", "**VAE**: the same draws")
            with gr.Column(min_width=300):
                redraw = gr.Button("Draw other points", size="sm", elem_id="pair-redraw")
                info = gr.Markdown("", elem_id="pair-info")
    return PairUI(none, body, ae_map, vae_map, size, hist, ae_draws, vae_draws, redraw, info, gr.State(0))


class PairHandlers:
    def __init__(self, ctx: Context, ui: PairUI):
        self.ctx, self.ui = ctx, ui

    @safe
    def show(self, dataset, z, s):
        ui = self.ui
        pair = inside.matching_pair(self.ctx.registry.entries(dataset, latent_code=True),
                                    latent_dim=int(z) if z else None)
        if pair is None:
            raise UserInputError(_("no autoencoder and VAE of the same latent size for {dataset}: train them in the "
                                   "Train tab (same latent size, clean images)", dataset=dataset))
        out, codes = {}, {}
        for e, kind, plot, draws in ((pair[0], "autoencoder", ui.ae_map, ui.ae_draws),
                                     (pair[1], "VAE", ui.vae_map, ui.vae_draws)):
            m = latent.latent_map(e, self.ctx.images, "auto")
            fig = latent_figures.map_figure(m, dataset_info(dataset).class_names)
            fig.update_layout(height=250, showlegend=False, title=None, margin={"l": 40, "r": 10, "t": 30, "b": 30})
            out[plot] = gr.update(value=fig, label=f"{_(kind)} {e.name}: {m.note}")
            out[draws] = display(grid(inside.prior_draws(e, 16, int(s or 0)), 8, pad=1), 520)  # 2x: crisp
            codes[f"{_(kind)} ({e.name})"] = m.latents
        ks = {k: inside.code_normality(v)["ks_mean"] for k, v in codes.items()}
        out[ui.info] = _("z = {d}, {n} test images. Distance of the codes from N(0, 1) per dim (Kolmogorov-Smirnov, "
                         "0 = identical, 1 = disjoint), averaged: {ks}.", d=pair[0].latent_dim,
                         n=len(next(iter(codes.values()))), ks="; ".join(f"{k}: **{v:.2f}**" for k, v in ks.items()))
        out[ui.hist] = inside_figures.histogram_figure(codes, height=210)
        return out

    @safe
    def refresh(self, dataset, current, s):
        """The latent sizes with a pair (the radio), then the pictures; where there is none, the pictures are
        hidden and emptied (no model names of another dataset left on screen) and a message says why."""
        ui = self.ui
        sizes = inside.pair_sizes(self.ctx.registry.entries(dataset, latent_code=True))
        radio = gr.update(choices=[(f"z = {d}", d) for d in sizes], visible=bool(sizes),
                          value=current if current in sizes else (sizes or [None])[-1])  # the largest: see TEXT
        if not sizes:
            return {ui.size: radio, ui.body: gr.update(visible=False), ui.none: gr.update(visible=True, value=(
                _("**No pair for {dataset} yet.** This view needs an autoencoder and a VAE of the same latent size, "
                  "both trained on clean images; the models here for it have none in common. Make them in the Train "
                  "tab (conv_ae and conv_vae, or mlp_ae and mlp_vae, one latent size, corruption none).",
                  dataset=dataset))),
                ui.ae_map: gr.update(value=None, label=_(AE_MAP)), ui.vae_map: gr.update(value=None, label=_(VAE_MAP)),
                ui.ae_draws: None, ui.vae_draws: None, ui.hist: None, ui.info: ""}
        shown = self.show(dataset, radio["value"], s)
        return {ui.size: radio, ui.body: gr.update(visible=True), ui.none: gr.update(visible=False, value=""),
                **({} if shown.get("__type__") else shown)}


def build(ctx: Context) -> None:
    ui = layout()
    h = PairHandlers(ctx, ui)
    refresh_outputs = [ui.size, ui.body, ui.none, *ui.outs]
    gr.on(ctx.model_triggers(), h.refresh, [ctx.dataset, ui.size, ui.seed], refresh_outputs, show_progress="hidden")
    ui.size.input(h.show, [ctx.dataset, ui.size, ui.seed], ui.outs, show_progress="hidden")
    ui.redraw.click(lambda s: int(s or 0) + 1, ui.seed, ui.seed).then(h.show, [ctx.dataset, ui.size, ui.seed],
                                                                      ui.outs, show_progress="hidden")
    ctx.load_events.append((h.refresh, [ctx.dataset, ui.size, ui.seed], refresh_outputs))


VIEW = Tab("inside-pair", "AE vs VAE", build, config={"state": [["pair-size", "radio"]]})  # in a link

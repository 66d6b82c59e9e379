"""Inside a VAE — one image, step by step: μ and σ per dim, ε, z = μ + σ·ε, x̂, the loss terms."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch

from vae_demo.app.common import LATEX, Context, as_tensor, safe, slider_moves, test_image
from vae_demo.app.figures import inside as figures
from vae_demo.app.registry import Tab
from vae_demo.language import _
from vae_demo.services import inside
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import display

TEXT = r"""**One image, step by step.** The encoder does not give one code but a small cloud: a mean μ and a
width σ per dimension; the VAE draws ε ~ N(0, I), takes $z = \mu + \sigma\cdot\varepsilon$ and decodes it. The
loss is the reconstruction cost plus β times the KL, which charges for every dimension whose cloud is narrower
or off-centre compared with N(0, 1): dims that carry nothing sit at μ ≈ 0, σ ≈ 1 and cost nothing."""

STEP_SIZE = 224  # 28×28 shown 8×: readable from the back of a classroom


@dataclass
class StepUI:
    model: gr.Dropdown
    x_img: gr.Image
    resample: gr.Button
    index: gr.Number
    seed: gr.Number
    use_current: gr.Button
    post: gr.Plot
    elbo: gr.Plot
    x_hat: gr.Image
    eps_slider: gr.Slider
    numbers: gr.Markdown
    eps_state: gr.State  # the ε in use (all D values) and the dim its slider moves (the busiest)
    x_state: gr.State  # the input in use

    @property
    def outs(self) -> list:
        return [self.x_img, self.post, self.elbo, self.x_hat, self.eps_state, self.x_state, self.eps_slider,
                self.numbers]


def layout() -> StepUI:
    gr.Markdown(TEXT, latex_delimiters=LATEX, elem_id="step-explain")
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            # every choice is a VAE: its name says the rest, and fits the column uncut (relist)
            model = gr.Dropdown(label="VAE", choices=[], elem_id="step-model", allow_custom_value=True)
            gr.Markdown("**x**: the input", elem_id="step-input-head")  # headings above pictures, none over them
            x_img = gr.Image(label="x: the input", show_label=False, type="numpy", interactive=False, height=200,
                             format="png", buttons=[], elem_id="step-input")
            resample = gr.Button("Resample ε", variant="primary", size="sm", elem_id="step-resample")  # on screen
            with gr.Row():
                index = gr.Number(label="test image #", value=0, precision=0, minimum=0, min_width=100,
                                  elem_id="step-index")
                seed = gr.Number(label="ε seed", value=0, precision=0, minimum=0, min_width=100, elem_id="step-seed")
            use_current = gr.Button("Use the image picked in Corrupt & restore", size="sm", elem_id="step-current")
        with gr.Column(scale=2, min_width=420):
            post = gr.Plot(label="the posterior q(z | x): μ ± σ per dim, z marked, KL per dim", show_label=False,
                           elem_id="step-posterior")  # the figures carry their titles and legends in their margins
            elbo = gr.Plot(label="the loss: reconstruction + β·KL", show_label=False, elem_id="step-elbo")
        with gr.Column(scale=1, min_width=240):
            gr.Markdown("**x̂ = decoder(z)**", elem_id="step-decoded-head")
            x_hat = gr.Image(label="x̂ = decoder(z)", show_label=False, type="numpy", interactive=False,
                             height=STEP_SIZE, format="png", buttons=[], elem_id="step-decoded", elem_classes=["vd-main"])
            eps_slider = gr.Slider(-3, 3, value=0, step=0.05, label="ε of the busiest dim", elem_id="step-eps")
            numbers = gr.Markdown("", elem_id="step-numbers")
    return StepUI(model, x_img, resample, index, seed, use_current, post, elbo, x_hat, eps_slider, numbers,
                  gr.State(None), gr.State(None))


def _seed(s) -> int:
    return int(np.nan_to_num(float(s or 0)))


class StepHandlers:
    def __init__(self, ctx: Context, ui: StepUI):
        self.ctx, self.ui = ctx, ui

    def shown(self, x, w) -> dict:
        ui, top = self.ui, int(w.order[0])
        return {ui.x_img: display(x[0], STEP_SIZE), ui.post: figures.posterior_figure(w), ui.elbo: figures.elbo_figure(w),
                ui.x_hat: display(w.x_hat, STEP_SIZE), ui.eps_state: {"eps": w.eps.tolist(), "dim": top},
                ui.x_state: x.numpy(),
                ui.eps_slider: gr.update(value=round(float(w.eps[top]), 2), label=_("ε of z[{top}], the busiest dim "
                                         "(σ = {sigma:.2f}: how far one step of ε moves z)", top=top,
                                         sigma=w.sigma[top])),
                ui.numbers: inside.walkthrough_text(w)}

    @safe
    def show(self, dataset, name, x, i, s):
        e = self.ctx.registry.get(name, dataset, latent_code=True)
        t = test_image(self.ctx, dataset, i) if x is None else as_tensor(x, dataset)  # the picked image (numpy)
        return self.shown(t, inside.walkthrough(e, t, seed=_seed(s)))

    @safe
    def show_test_image(self, dataset, name, i, s):
        return self.show(dataset, name, None, i, s)

    @safe
    def resample_eps(self, dataset, name, x_in, i, s):
        s = _seed(s) + 1
        e = self.ctx.registry.get(name, dataset, latent_code=True)
        t = torch.as_tensor(np.asarray(x_in, dtype=np.float32)) if x_in is not None else test_image(self.ctx, dataset, i)
        return {**self.shown(t, inside.walkthrough(e, t, seed=s)), self.ui.seed: s}

    @safe
    def on_eps(self, dataset, name, x_in, eps, v):
        e = self.ctx.registry.get(name, dataset, latent_code=True)
        if eps is None or x_in is None:
            raise UserInputError(_("pick an image first"))
        t = torch.as_tensor(np.asarray(x_in, dtype=np.float32))
        values = np.asarray(eps["eps"], dtype=np.float64)  # one pass per move: the dim is known from the last
        values[int(eps["dim"])] = float(np.clip(np.nan_to_num(float(v)), -3, 3))
        return self.shown(t, inside.walkthrough(e, t, eps=values))

    @safe
    def relist(self, dataset, current):
        vaes = [e for e in self.ctx.registry.entries(dataset, latent_code=True) if e.is_vae]
        names = [e.name for e in vaes]
        plain = [e.name for e in vaes if e.is_plain_vae]
        value = current if current in names else (plain or names or [None])[0]
        short = [(e.name + (f" (β={e.beta:g})" if e.beta != 1.0 else "") + (_(" (yours)") if e.yours else ""), e.name)
                 for e in vaes]
        return gr.update(choices=short, value=value,
                         info=None if names else f"no VAE for {dataset} yet: train one in the Train tab")


def build(ctx: Context) -> None:
    ui = layout()
    h = StepHandlers(ctx, ui)
    quiet = {"show_progress": "hidden"}
    gr.on(ctx.model_triggers(), h.relist, [ctx.dataset, ui.model], ui.model, **quiet)
    gr.on([ui.model.change, ui.index.submit, ui.seed.submit], h.show_test_image,
          [ctx.dataset, ui.model, ui.index, ui.seed], ui.outs, **quiet)
    ui.use_current.click(h.show, [ctx.dataset, ui.model, ctx.current, ui.index, ui.seed], ui.outs, **quiet)
    ui.resample.click(h.resample_eps, [ctx.dataset, ui.model, ui.x_state, ui.index, ui.seed], [*ui.outs, ui.seed],
                      api_name="resample_eps", api_description="One image through a VAE again with a new ε: "
                                                               "the posterior, x̂, the loss terms.", **quiet)
    gr.on(slider_moves(ui.eps_slider), h.on_eps, [ctx.dataset, ui.model, ui.x_state, ui.eps_state, ui.eps_slider],
          ui.outs, trigger_mode="always_last", **quiet)  # a drag, a typed ε, and its ↺
    ctx.load_events.append((h.relist, [ctx.dataset, ui.model], [ui.model]))


VIEW = Tab("inside-step", "One image, step by step", build,
           config={"state": [["step-model", "dropdown"], ["step-index", "number"], ["step-seed", "number"],
                             ["step-eps", "slider"]]})

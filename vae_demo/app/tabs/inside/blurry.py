"""Inside a VAE — why restorations are blurry: the completions that fit what a corruption left, their average
and the restorer's output."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from vae_demo.app.common import LATEX, Context, safe, test_image
from vae_demo.app.registry import Tab
from vae_demo.language import _
from vae_demo.services import inside, latent
from vae_demo.services.images import display

TEXT = r"""**Why restorations are blurry.** Many images fit what the corruption left (below: the most
consistent ones, the surviving pixels kept). A restorer trained to minimise squared error or cross-entropy
learns their *average*, the conditional mean $\mathbb E[x \mid \tilde x]$: hedging between the completions
costs less than betting on one, and an average of sharp images is a blurry one. The headings measure it (MSE)."""

PICTURES = (("corrupted", "what is left (corrupted)"), ("average", "average of the completions"),
            ("restored", "the restorer's output"))


@dataclass
class BlurryUI:
    model: gr.Dropdown
    spec: gr.Dropdown
    index: gr.Number
    go: gr.Button
    pictures: dict  # key → gr.Image
    heads: dict  # key → gr.Markdown
    strip: gr.Image
    strip_head: gr.Markdown
    verdict: gr.Markdown

    @property
    def outs(self) -> list:
        return [*self.pictures.values(), self.strip, self.verdict, *self.heads.values(), self.strip_head]


def layout() -> BlurryUI:
    gr.Markdown(TEXT, latex_delimiters=LATEX, elem_id="blurry-explain")
    with gr.Row():
        model = gr.Dropdown(label="Restorer", choices=[], elem_id="blurry-model", allow_custom_value=True, scale=4)
        spec = gr.Dropdown(list(inside.COMPLETION_SPECS), value=inside.BLURRY_SPEC, label="Corruption",
                           elem_id="blurry-spec", scale=1, min_width=140)
        index = gr.Number(label="test image #", value=0, precision=0, minimum=0, elem_id="blurry-index", scale=1,
                          min_width=110)
        go = gr.Button("Show the completions", variant="primary", elem_id="blurry-go")
    heads, pictures = {}, {}
    with gr.Row():  # a heading above each picture, none over it; height 198: the image 196 px (7× a 28×28 one)
        for key, head in PICTURES:
            with gr.Column(min_width=200):
                heads[key] = gr.Markdown(f"**{head}**", elem_id=f"blurry-{key}-head")
                pictures[key] = gr.Image(label=head, show_label=False, type="numpy", interactive=False, height=198,
                                         format="png", buttons=[], elem_id=f"blurry-{key}")
    with gr.Row(equal_height=False):  # the strip's heading beside it: the row stays one picture tall
        with gr.Column(scale=1, min_width=200):
            strip_head = gr.Markdown("**plausible completions** (the surviving pixels kept)",
                                     elem_id="blurry-strip-head")
        strip = gr.Image(label="plausible completions", show_label=False, type="numpy", interactive=False,
                         format="png", buttons=[], scale=3, elem_id="blurry-strip")
    verdict = gr.Markdown("", elem_id="blurry-verdict")
    return BlurryUI(model, spec, index, go, pictures, heads, strip, strip_head, verdict)


class BlurryHandlers:
    def __init__(self, ctx: Context, ui: BlurryUI):
        self.ctx, self.ui = ctx, ui

    @safe
    def show_completions(self, dataset, name, sp, i):
        ui = self.ui
        e = self.ctx.registry.get(name, dataset)
        x = test_image(self.ctx, dataset, i)
        pool, where = inside.completion_pool(self.ctx.images, dataset)
        c = inside.completions(e, x, sp, pool, seed=int(np.nan_to_num(float(i or 0))), pool_name=where)
        k = len(c.candidates)
        return {ui.pictures["corrupted"]: display(c.corrupted, 196), ui.pictures["average"]: display(c.mean, 196),
                ui.pictures["restored"]: display(c.restored, 196), ui.strip: latent.path_strip(c.candidates, height=108),
                ui.verdict: inside.completions_text(c, e.name), ui.heads["corrupted"]: _("**what is left** ({spec})", spec=sp),
                ui.heads["average"]: _("**average of the {k} completions**: {mse} from the output (MSE)", k=k,
                                       mse=inside.mse_e3(c.mse_mean)),
                ui.heads["restored"]: _("**the restorer's output** (`{name}`)", name=e.name),
                ui.strip_head: _("**{k} plausible completions**, what is left kept, the most consistent with it "
                                 "first; the one closest to the output is {mse} from it (MSE)", k=k,
                                 mse=inside.mse_e3(c.closest))}

    @safe
    def relist_restorers(self, dataset, current, sp):
        entries = [e for e in self.ctx.registry.entries(dataset) if e.is_restorer]
        names = [e.name for e in entries]
        pick = inside.blurry_restorer(entries, sp or inside.BLURRY_SPEC)  # one trained on this corruption
        value = current if current in names else (pick.name if pick else None)
        # what matters here is what each was trained on: the name and that, in a line that fits
        return gr.update(choices=[(_("{name} — trained on {corruption}", name=e.name, corruption=e.corruption), e.name)
                                  for e in entries], value=value,
                         info=None if names else _("no restorer for {dataset} yet: train one (Train tab, corruption "
                                                   "mix)", dataset=dataset))


def build(ctx: Context) -> None:
    ui = layout()
    h = BlurryHandlers(ctx, ui)
    gr.on(ctx.model_triggers(), h.relist_restorers, [ctx.dataset, ui.model, ui.spec], ui.model, show_progress="hidden")
    gr.on([ui.go.click, ui.model.change, ui.spec.change, ui.index.submit], h.show_completions,
          [ctx.dataset, ui.model, ui.spec, ui.index], ui.outs, show_progress="minimal")
    ctx.load_events.append((h.relist_restorers, [ctx.dataset, ui.model, ui.spec], [ui.model]))


VIEW = Tab("inside-blurry", "Why restorations are blurry", build)

"""Inside a VAE — reconstruction error as an "is this like my training data?" score."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch

from vae_demo.app.common import LATEX, Context, as_tensor, safe
from vae_demo.app.figures import inside as figures
from vae_demo.app.registry import Tab
from vae_demo.data import DATASETS
from vae_demo.language import _
from vae_demo.services import inside
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import display

TEXT = r"""**Not like the training data?** A model reconstructs well only what resembles its training images, so
the reconstruction error is an anomaly score: compare this image's with the histogram of the test split's.
Try a Fashion-MNIST image on an MNIST model: its error lands far to the right. The other way round it fails:
a Fashion-MNIST model reconstructs MNIST digits (simple, mostly black) better than its own clothes."""


@dataclass
class AnomalyUI:
    model: gr.Dropdown
    x_img: gr.Image
    recon: gr.Image
    use_current: gr.Button
    other: gr.Button
    hist: gr.Plot
    verdict: gr.Markdown
    n_other: gr.State

    @property
    def outs(self) -> list:
        return [self.x_img, self.recon, self.hist, self.verdict]


def _picture(head: str, elem_id: str) -> gr.Image:
    with gr.Column(min_width=120):  # a heading above the picture, no label drawn over it
        gr.Markdown(f"**{head}**")
        return gr.Image(label=head, show_label=False, type="numpy", interactive=False, height=198, format="png",
                        buttons=[], elem_id=elem_id)


def layout() -> AnomalyUI:
    gr.Markdown(TEXT, latex_delimiters=LATEX, elem_id="anomaly-explain")
    with gr.Row():
        with gr.Column(scale=1, min_width=440):  # two images side by side, each 196 px (7× a 28×28 one)
            model = gr.Dropdown(label="Model", choices=[], elem_id="anomaly-model", allow_custom_value=True)
            with gr.Row():
                x_img = _picture("the image", "anomaly-input")
                recon = _picture("its reconstruction", "anomaly-recon")
            with gr.Row():
                use_current = gr.Button("Score the image picked in Corrupt & restore", size="sm",
                                        elem_id="anomaly-current")
                other = gr.Button("Score an image of another dataset", size="sm", variant="primary",
                                  elem_id="anomaly-other")
        with gr.Column(scale=2):
            hist = gr.Plot(label="reconstruction error: this image against the test split", elem_id="anomaly-hist")
            verdict = gr.Markdown("", elem_id="anomaly-verdict")
    return AnomalyUI(model, x_img, recon, use_current, other, hist, verdict, gr.State(0))


def auc_text(meta: dict) -> str:
    """The committed benchmark's ROC AUCs of this model's score, with when and how they were measured."""
    auc = meta.get("benchmark", {}).get("anomaly", {})
    return "; ".join(_("as a detector of {other} images: ROC AUC **{auc:.3f}** ({n} + {m} test images)", other=k,
                       auc=v["auc"], n=v["test_images"], m=v["other_images"])
                     for k, v in auc.items() if isinstance(v, dict) and "auc" in v)


class AnomalyHandlers:
    def __init__(self, ctx: Context, ui: AnomalyUI):
        self.ctx, self.ui = ctx, ui

    def score(self, dataset, name, x, where) -> dict:
        ui = self.ui
        e = self.ctx.registry.get(name, dataset)
        if e.is_restorer or not e.has_latent_code:
            raise UserInputError(_("{name} was trained to restore: pick a model trained on clean images", name=e.name))
        ref = inside.test_scores(e, self.ctx.images)
        score = float(inside.anomaly_scores(e, x)[0])
        p = inside.percentile_of(score, ref)
        with torch.no_grad():
            r = e.model.reconstruct(x)[0]
        aucs = auc_text(e.meta)
        text = (_("{where}: reconstruction error **{score:.1f}**, above {p:.0%} of {n} {dataset} test images",
                  where=where, score=score, p=p, n=len(ref), dataset=dataset)
                + (_(" — unlike the training data.") if p > 0.99 else _(" — like the training data.") if p < 0.9
                   else ".")
                + (_(" Measured on the full test splits, this score {aucs}.", aucs=aucs) if aucs else ""))
        return {ui.x_img: display(x[0], 196), ui.recon: display(r, 196),
                ui.hist: figures.anomaly_figure(ref, score, dataset), ui.verdict: text}

    @safe
    def on_current(self, dataset, name, x):
        return self.score(dataset, name, as_tensor(x, dataset), _("The picked image"))

    @safe
    def on_other(self, dataset, name, k):
        own = self.ctx.images.get(dataset)
        for d in DATASETS:
            s = self.ctx.images.get(d) if d != dataset else None
            if s is None or own is None or s.floats(slice(0, 1)).shape != own.floats(slice(0, 1)).shape:
                continue
            i = int(np.nan_to_num(float(k or 0))) % len(s)
            return {**self.score(dataset, name, s.floats(slice(i, i + 1)), _("{dataset} test image #{i}", dataset=d, i=i)),
                    self.ui.n_other: i + 1}
        raise UserInputError(_("no other dataset with {dataset}'s image size here (CIFAR-10 is 32×32 colour)",
                               dataset=dataset))

    @safe
    def on_model(self, dataset, name):
        s = self.ctx.images.get(dataset)
        if not name or s is None:
            return gr.skip()
        return self.score(dataset, name, s.floats(slice(0, 1)), _("{dataset} test image #{i}", dataset=dataset, i=0))

    @safe
    def relist(self, dataset, current):
        entries = [e for e in self.ctx.registry.entries(dataset, latent_code=True) if not e.is_restorer]
        names = [e.name for e in entries]
        vaes = [e.name for e in entries if e.is_plain_vae]
        value = current if current in names else (vaes or names or [None])[0]
        return gr.update(choices=[(e.label, e.name) for e in entries], value=value)


def build(ctx: Context) -> None:
    ui = layout()
    h = AnomalyHandlers(ctx, ui)
    quiet = {"show_progress": "hidden"}
    gr.on(ctx.model_triggers(), h.relist, [ctx.dataset, ui.model], ui.model, **quiet)
    ui.model.change(h.on_model, [ctx.dataset, ui.model], ui.outs, **quiet)
    ui.use_current.click(h.on_current, [ctx.dataset, ui.model, ctx.current], ui.outs, **quiet)
    ui.other.click(h.on_other, [ctx.dataset, ui.model, ui.n_other], [*ui.outs, ui.n_other], **quiet)
    ctx.load_events.append((h.relist, [ctx.dataset, ui.model], [ui.model]))


VIEW = Tab("inside-anomaly", "Not like the training data?", build,
           config={"state": [["anomaly-model", "dropdown"]]})  # in a link

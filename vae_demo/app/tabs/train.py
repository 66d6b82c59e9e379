"""Tab 5 — Train: one background job at a time, live curves and reconstructions, Stop."""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr

from vae_demo.app.common import Context, explain, safe
from vae_demo.app.figures.train import curves_figure
from vae_demo.app.registry import TAB_FILES, Tab
from vae_demo.corruptions import KINDS
from vae_demo.language import N_, _, translate
from vae_demo.models import MODELS
from vae_demo.services import gpu
from vae_demo.services.errors import UserInputError
from vae_demo.services.jobs import (
    JobState,
    device_description,
    gpu_status,
    make_config,
    max_epochs,
    quota_estimate,
    train_defaults,
    visitor_key,
)
from vae_demo.services.restore import default_severity
from vae_demo.settings import Setting
from vae_demo.training import all_model_settings

EXPLAIN = r"""
**What the loss is.** An autoencoder minimises the reconstruction error. A VAE maximises the evidence
lower bound (ELBO) on $\log p(x)$:
$$\log p(x) \;\ge\; \mathbb{E}_{q_\phi(z\mid x)}\big[\log p_\theta(x\mid z)\big] \;-\; \beta\,\mathrm{KL}\big(q_\phi(z\mid x)\,\Vert\,p(z)\big),$$
so the curves show the two terms: *recon* ($-\log p_\theta(x\mid z)$, binary cross-entropy summed over
pixels) and *kl* (in nats, on its own axis: it is far smaller), with loss = recon + β·kl. For a Gaussian encoder $q_\phi(z\mid x)=\mathcal N(\mu,\mathrm{diag}\,\sigma^2)$
the KL has a closed form, and sampling uses the **reparameterization trick** $z=\mu+\sigma\odot\varepsilon$,
$\varepsilon\sim\mathcal N(0,I)$, so gradients flow through $\mu$ and $\sigma$. β > 1 trades sharpness for a
smoother, more disentangled latent space. The curves show whatever terms the model returns, by name:
a model with a discrete code (VQ-VAE) adds *codebook* ($\lVert \mathrm{sg}[z_e]-e\rVert^2$, which moves the
codes) and *commitment* ($\lVert z_e-\mathrm{sg}[e]\rVert^2$, weighted by β = 0.25, which keeps the encoder
near them) to its *recon*. With a corruption, the model learns to denoise: inputs are
corrupted, targets stay clean. The checkpoint is saved after every epoch, in your own folder (not the
project's checkpoints), and appears in every tab marked "yours"; the restore tab's picker adds it to the row.
"""

CORRUPTION_CHOICES = [(N_("none (trained on clean images)"), "none"), (N_("mix (blind restorer)"), "mix")] + [
    (f"{k}:{default_severity(k):g}", f"{k}:{default_severity(k):g}") for k in KINDS
]


def idle_text() -> str:
    return _("No training job from this page yet. Training runs on **{device}**, one job at a time for the whole "
             "app.", device=translate(device_description()))


def status_text(s: JobState, elsewhere: bool = False) -> str:
    """The job's state in a line; ``elsewhere``: the job was started by another page (another visitor, or
    this teacher's other window), which this page is only watching."""
    if s.status == "idle":
        return idle_text()
    eta = s.eta_s
    parts = [(_("**started in another page**, ") if elsewhere else "")
             + _("**{status}** · `{name}` on {device}", status=_(s.status), name=s.name, device=translate(s.device)),
             translate(s.message)]
    if s.running and s.total_batches:
        parts.append(_("{share:.0%} of the batches", share=s.fraction)
                     + (_(", about {eta:.0f} s left", eta=eta) if eta is not None else ""))
    if s.notes:
        parts.append("; ".join(translate(n) for n in s.notes))
    parts.append(gpu_status(s))  # on ZeroGPU: the wait for a GPU, each call's progress, quota used and left
    return " — ".join(p for p in parts if p)


def setting_control(s: Setting, kinds: list[str], visible: bool):
    """The Train tab's control for model setting ``s`` (taken by ``kinds``), from its declaration."""
    label = f"{s.title} ({', '.join(kinds)})"
    common = {"label": label, "info": s.help, "visible": visible, "elem_id": "train-" + s.name.replace("_", "-")}
    if s.kind == "bool":
        return gr.Checkbox(value=bool(s.default), **common)
    if s.kind in ("int", "float") and s.slider:
        lo, hi, step = s.slider
        return gr.Slider(lo, hi, value=s.default, step=step, **common)
    if s.kind in ("int", "float"):
        return gr.Number(value=s.default, precision=0 if s.kind == "int" else None, minimum=s.lo, maximum=s.hi,
                         **common)
    if s.kind == "choice":
        return gr.Dropdown(list(s.choices), value=s.default, **common)
    return gr.Textbox(value=s.text(s.default) if s.default is not None else "", **common)


def model_controls() -> dict[str, Setting]:
    """The model settings the Train tab shows (each kind's declarations say which: ``ui``)."""
    return {name: s for name, s in all_model_settings().items() if s.ui}


@dataclass
class TrainUI:
    """The tab's components."""

    settings: gr.Accordion
    model: gr.Dropdown
    latent_dim: gr.Slider
    corruption: gr.Dropdown
    epochs: gr.Number
    batch: gr.Number
    lr: gr.Number
    limit: gr.Number
    controls: list  # the model settings' controls, in model_controls() order
    start: gr.Button
    stop: gr.Button
    bar: gr.Markdown  # where the progress bar shows
    status: gr.Markdown
    quota: gr.Markdown  # on ZeroGPU: what the visitor's GPU quota buys
    curves: gr.Plot
    recon: gr.Image
    mine: gr.State  # the name of the job this page started: another page's job is labelled as such

    @property
    def inputs(self) -> list:
        """What a run is made of (after the dataset)."""
        return [self.model, self.latent_dim, self.corruption, self.epochs, self.batch, self.lr, self.limit,
                *self.controls]


def _settings(d: dict) -> dict:
    first = MODELS[d["model"]]
    # the settings fold away when Train is pressed: on a 1280×720 screen the progress, the loss curves and
    # the reconstructions are then all in view (the settings open again with a click)
    with gr.Accordion("Settings", open=True, elem_id="train-settings") as settings:
        with gr.Row():
            model = gr.Dropdown([(f"{k} — {cls.description}", k) for k, cls in MODELS.items()], value=d["model"],
                                label="Model", elem_id="train-model", scale=5)  # room for the longest name
            latent_dim = gr.Slider(1, 128, value=d["latent_dim"], step=1, label="Latent size", elem_id="train-latent",
                                   scale=4, info="z's size; a discrete code: each code vector's; unet: its coarsest "
                                                 "level's channels")
            corruption = gr.Dropdown(CORRUPTION_CHOICES, value=d["corruption"], label="Corruption (denoising)",
                                     elem_id="train-corruption", scale=3)
        with gr.Row():
            epochs = gr.Number(value=d["epochs"], precision=0, minimum=1, maximum=max_epochs(),
                               label=f"Epochs (at most {max_epochs()} here)", elem_id="train-epochs")
            batch = gr.Number(value=d["batch_size"], precision=0, minimum=1, maximum=4096, label="Batch size",
                              elem_id="train-batch")
            lr = gr.Number(value=d["lr"], minimum=1e-6, maximum=1, label="Learning rate", elem_id="train-lr")
            limit = gr.Number(value=d["train_limit"], precision=0, minimum=0, label="Training images (0 = all)",
                              elem_id="train-limit")
        with gr.Row():  # the chosen kind's own settings, from its declarations
            controls = [setting_control(s, [k for k, c in MODELS.items() if c.takes(name)], first.takes(name))
                        for name, s in model_controls().items()]
    return {"settings": settings, "model": model, "latent_dim": latent_dim, "corruption": corruption,
            "epochs": epochs, "batch": batch, "lr": lr, "limit": limit, "controls": controls}


def _results() -> dict:
    with gr.Row(equal_height=True):
        start = gr.Button("Train", variant="primary", elem_id="train-start", scale=1)
        stop = gr.Button("Stop", variant="stop", elem_id="train-stop", scale=1)
        bar = gr.Markdown("", elem_id="train-progress", min_height=40, scale=2)
    status = gr.Markdown(idle_text(), elem_id="train-status")
    quota = gr.Markdown("", elem_id="train-quota", visible=gpu.on_zerogpu())
    with gr.Row():
        # the figure has its titles: no label drawn over it
        curves = gr.Plot(label="Loss curves", show_label=False, elem_id="train-curves", elem_classes=["vd-main"], scale=3)
        with gr.Column(scale=2):
            gr.Markdown("**Test images (top) and their reconstructions (bottom)**, after each epoch",
                        elem_id="train-recon-note")
            recon = gr.Image(label="Test images (top) and reconstructions (bottom), after each epoch",
                             show_label=False, type="numpy", interactive=False, format="png", buttons=[],
                             elem_id="train-recon")
    return {"start": start, "stop": stop, "bar": bar, "status": status, "quota": quota, "curves": curves,
            "recon": recon}


def layout() -> TrainUI:
    d = train_defaults()  # on ZeroGPU: settings that fit an anonymous visitor's daily GPU quota
    parts = {**_settings(d), **_results()}
    explain(EXPLAIN)
    return TrainUI(**parts, mine=gr.State(None))


class TrainHandlers:
    """The tab's handlers, over the job manager (services/jobs.py); each returns its outputs by component."""

    def __init__(self, ctx: Context, ui: TrainUI):
        self.ctx, self.ui = ctx, ui
        self.shown = list(model_controls())

    def state(self, s: JobState, version, elsewhere: bool) -> dict:
        ui = self.ui
        out = {ui.status: status_text(s, elsewhere), ui.curves: curves_figure(s.history) if s.history else None}
        if s.grid is not None:
            out[ui.recon] = s.grid
        if version is not None:
            out[self.ctx.models_version] = version
        return out

    def follow(self, started=None, progress=gr.Progress()):  # noqa: B008  (gradio injects the tracker this way)
        """Stream the running job's state to this page until it ends. ``started``: the job this page started.
        A page that started none shows nothing of a job that has ended (a fresh page is a fresh start; the
        checkpoint is listed as "yours" in every tab), and a job still running elsewhere, labelled as such."""
        ui, jobs = self.ui, self.ctx.jobs
        last_epochs = -1
        s = jobs.snapshot()
        elsewhere = not (started and s.name == started)
        if elsewhere and not s.running:
            yield {ui.status: idle_text(), ui.curves: None, ui.recon: None}
            return
        watched = s.running
        while s.running:
            if s.phase == "waiting for a GPU":  # ZeroGPU: the platform has not lent this call a GPU yet
                progress(None, desc=gpu_status(s))
            elif s.total_batches:
                eta = s.eta_s
                progress(s.fraction, desc=translate(s.message) + (f" · ETA {eta:.0f} s" if eta is not None else ""))
            else:
                progress(None, desc=translate(s.message))
            if len(s.history) != last_epochs:
                last_epochs = len(s.history)
                yield self.state(s, None, elsewhere)
            else:
                yield {ui.status: status_text(s, elsewhere)}
            time.sleep(0.5)
            s = jobs.snapshot()
        if watched and s.status == "failed":
            gr.Warning(translate(s.message))
        elif watched and s.status in ("done", "stopped"):
            gr.Info(translate(s.message))
        yield self.state(s, self.ctx.registry.version, elsewhere)

    def config(self, dataset, model_, z, corr, ep, bs, lr_, lim, settings):
        return make_config(dataset, model_, z, corr, ep, bs, lr_, lim, hparams=dict(zip(self.shown, settings)))

    @safe
    def train(self, dataset, model_, z, corr, ep, bs, lr_, lim, *settings):
        """Train ``model_``; ``settings``: the model settings' controls, in the order the tab shows them. The
        settings fold away, so the curves and the reconstructions are in view."""
        cfg, notes = self.config(dataset, model_, z, corr, ep, bs, lr_, lim, settings)
        s = self.ctx.jobs.start(cfg, notes=notes)
        return {self.ui.status: status_text(s), self.ui.mine: s.name, self.ui.settings: gr.update(open=False)}

    def on_model(self, kind):
        """Only the settings this kind takes (its declarations say which), each at this kind's default: no
        control that does nothing, and no hidden value left from another kind."""
        cls = MODELS.get(kind)
        if cls is None:
            return gr.skip()
        taken = cls.settings()
        return {c: gr.update(visible=name in taken, value=(taken.get(name) or s).default)
                for c, (name, s) in zip(self.ui.controls, model_controls().items())}

    def stop_training(self):
        if self.ctx.jobs.stop():
            gr.Info(_("Stopping {what}; the last finished epoch stays saved.", what=translate(self.ctx.jobs.stop_note())))
        else:
            gr.Info(_("No training job is running."))

    def on_settings(self, dataset, model_, z, corr, ep, bs, lr_, lim, *settings, request: gr.Request = None):
        """On ZeroGPU, before a run: about how much training the visitor's daily GPU quota buys with these
        settings (services/jobs.quota_estimate); a setting it cannot take is said, not raised."""
        try:
            cfg, _notes = self.config(dataset, model_, z, corr, ep, bs, lr_, lim, settings)
        except UserInputError as err:
            return str(err)
        e = quota_estimate(cfg, visitor_key(request))
        return e.text if e else ""


def wire(ctx: Context, ui: TrainUI, h: TrainHandlers) -> None:
    train_inputs = [ctx.dataset, *ui.inputs]
    followed = [ui.status, ui.curves, ui.recon, ctx.models_version, ui.bar]
    if gpu.on_zerogpu():  # off a Space nothing changes: no estimate, no event
        gr.on([ctx.dataset.change, *(c.change for c in ui.inputs)], h.on_settings, train_inputs, ui.quota,
              show_progress="hidden")
        ctx.load_events.append((h.on_settings, train_inputs, [ui.quota]))
    ended = ui.start.click(h.train, train_inputs, [ui.status, ui.mine, ui.settings], concurrency_limit=None,
                           api_name="train", api_description="Start training a model (one job at a time) → its "
                                                             "status.").then(
        h.follow, ui.mine, followed, concurrency_limit=None, show_progress_on=[ui.bar], api_name="follow_training",
        api_description="Stream the training job's status, curves and reconstructions until it ends.")
    if gpu.on_zerogpu():  # the run spent quota: what is left buys less
        ended.then(h.on_settings, train_inputs, ui.quota, show_progress="hidden")
    ui.stop.click(h.stop_training, None, None, concurrency_limit=None, api_name="stop_training",
                  api_description="Stop the training job after its current batch (the last epoch stays saved).")
    ui.model.change(h.on_model, ui.model, ui.controls, show_progress="hidden")
    # a page opened (or reloaded) while a job runs follows it too, labelled as another page's job
    ctx.load_events.append((h.follow, [ui.mine], followed, {"show_progress": "full", "show_progress_on": [ui.bar]}))


def build(ctx: Context) -> None:
    ui = layout()
    wire(ctx, ui, TrainHandlers(ctx, ui))


TAB = Tab("train", "Train", build, css=TAB_FILES / "train.css")

"""Tab 2 — Latent sliders: one slider per latent dim (most informative first), decoded live."""

from __future__ import annotations

import gradio as gr
import numpy as np

from vae_demo.services import latent
from vae_demo.ui.common import Context, as_tensor, explain, safe

EXPLAIN = r"""
**Drive the decoder yourself.** Each slider is one coordinate of the code $z$; the image is $g(z)$.
Sliders are in standard units: for a VAE the prior is $p(z)=\mathcal N(0, I)$, so $\pm 3$ covers almost all of
it; for an autoencoder or PCA, $z_d = \mu_d + v\,\sigma_d$ with $\mu,\sigma$ from the test-set codes.
Dims are ordered by how much they carry: for a VAE the mean KL per dim
$$\mathrm{KL}\big(q(z_d\mid x)\,\Vert\,\mathcal N(0,1)\big) = \tfrac12\left(\mu_d^2+\sigma_d^2-1-\log\sigma_d^2\right),$$
averaged over test images (dims with KL ≈ 0 are unused: the posterior collapsed onto the prior there);
for PCA the eigenvalue (variance explained); for an autoencoder the variance of the codes.
At most 16 sliders are shown; the other dims keep their value.
"""


def make_slide_handler(ctx: Context):
    """The handler a slider move calls (the benchmark times exactly this function)."""

    @safe(1)
    def on_slide(dataset, name, base_values, *values):
        e = ctx.registry.get(name, dataset, latent_code=True)
        stats = latent.latent_stats(e, ctx.images)
        if base_values is None:
            base_values = np.zeros(e.latent_dim)
        img, _ = latent.slider_decode(e, stats, base_values, values)
        return img

    return on_slide


def build(ctx: Context) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            # custom values: API callers may name any model (the registry checks it, with a clear message)
            model = gr.Dropdown(label="Model", choices=[], elem_id="sliders-model",
                                allow_custom_value=True)
            info = gr.Markdown("", elem_id="sliders-info")
            sliders = []
            with gr.Row():
                for col in range(2):
                    with gr.Column(min_width=220):
                        for r in range(latent.MAX_SLIDERS // 2):
                            i = col * (latent.MAX_SLIDERS // 2) + r
                            sliders.append(gr.Slider(-latent.SLIDER_RANGE, latent.SLIDER_RANGE, value=0.0, step=0.01,
                                                     label=f"z[{i}]", elem_id=f"sliders-z{i}", visible=False))
        with gr.Column(scale=1, min_width=280):
            image = gr.Image(label="Decoded image g(z)", type="numpy", interactive=False, height=300, format="png",
                             elem_id="sliders-image", buttons=[])
            with gr.Row():
                sample = gr.Button("Sample from the prior", elem_id="sliders-sample")
                reset = gr.Button("Reset to 0", elem_id="sliders-reset")
            from_image = gr.Button("Start from the image picked in “Corrupt & restore”", elem_id="sliders-from-image")
    explain(EXPLAIN)
    base = gr.State(None)  # all D values (standard units) of the current code

    def _entry(dataset, name):
        e = ctx.registry.get(name, dataset, latent_code=True)
        return e, latent.latent_stats(e, ctx.images)

    def _set(e, stats, values, text=None):
        """Outputs for a whole new code: every slider, the base, the image (and the info line)."""
        shown = stats.shown
        labels = latent.slider_labels(e, stats)
        ups = []
        for i in range(latent.MAX_SLIDERS):
            if i < len(shown):
                ups.append(gr.update(visible=True, value=round(float(values[shown[i]]), 2), label=labels[i]))
            else:
                ups.append(gr.update(visible=False, value=0.0))
        img = latent.decode(e, latent.to_latent(stats, values))
        return (*ups, [float(v) for v in values], img) + ((text,) if text is not None else ())

    n_set = latent.MAX_SLIDERS + 2

    @safe(n_set + 2)
    def on_model(dataset, name):
        if not name:
            return (*[gr.update(visible=False)] * latent.MAX_SLIDERS, None, None,
                    f"No model for {dataset} yet: train one in the Train tab.", gr.update())
        e, stats = _entry(dataset, name)
        kind = "VAE: samples from the prior are meaningful" if e.is_vae else (
            "not generative: random codes may decode to garbage (there is no prior)")
        text = (f"**{e.name}**: {e.latent_dim} latent dims, {min(e.latent_dim, latent.MAX_SLIDERS)} shown, "
                f"ordered by {stats.what}. {kind}.")
        # only a VAE has a prior to sample from; for the others the button draws a random code
        button = "Sample from the prior" if e.is_vae else "Random code (no prior)"
        return (*_set(e, stats, np.zeros(e.latent_dim), text), gr.update(value=button))

    on_slide = make_slide_handler(ctx)

    @safe(n_set)
    def on_sample(dataset, name):
        e, stats = _entry(dataset, name)
        return _set(e, stats, latent.random_values(e))

    @safe(n_set)
    def on_reset(dataset, name):
        e, stats = _entry(dataset, name)
        return _set(e, stats, np.zeros(e.latent_dim))

    @safe(n_set)
    def on_from_image(dataset, name, x):
        e, stats = _entry(dataset, name)
        return _set(e, stats, latent.encode_values(e, stats, as_tensor(x, dataset)))

    set_outputs = [*sliders, base, image]

    def relist(dataset, current):
        return ctx.model_dropdown_update(dataset, current)

    gr.on(ctx.model_triggers(), safe(1)(relist), [ctx.dataset, model], model, show_progress="hidden")
    model.change(on_model, [ctx.dataset, model], [*set_outputs, info, sample], show_progress="hidden")
    # live while dragging; stale positions are dropped (always_last); fast, so no concurrency cap
    gr.on([s.input for s in sliders], on_slide, [ctx.dataset, model, base, *sliders], image,
          show_progress="hidden", trigger_mode="always_last", concurrency_limit=None, queue=False,
          api_name="slide")
    sample.click(on_sample, [ctx.dataset, model], set_outputs, show_progress="hidden")
    reset.click(on_reset, [ctx.dataset, model], set_outputs, show_progress="hidden")
    from_image.click(on_from_image, [ctx.dataset, model, ctx.current], set_outputs, show_progress="hidden")
    ctx.load_events.append((relist, [ctx.dataset, model], [model]))

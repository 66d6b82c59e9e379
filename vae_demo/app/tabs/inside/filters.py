"""Inside a VAE — what the network learned: the first layer's filters of a plain and a denoising autoencoder."""

from __future__ import annotations

import gradio as gr

from vae_demo.app.common import LATEX, Context, safe
from vae_demo.app.registry import Tab
from vae_demo.language import _
from vae_demo.services import inside

TEXT = r"""**What the network learned.** The first layer's filters of two autoencoders of the same architecture,
one trained to copy clean images and one to remove noise. In the classic experiment (a dense first layer,
whose filters are whole-image templates) the denoiser's turn into strokes and edges and the plain
autoencoder's stay noisy; small 3×3 conv kernels differ far less. The number under the grids measures
smoothness: the correlation of neighbouring weights (0 for noise, 1 for smooth)."""

FILTERS_SHOWN = 64  # filters in each grid: the most active units


def filters(ctx: Context, dataset: str) -> tuple:
    """The two grids of filters and what they say, or (None, None, why there is no pair)."""
    pair = inside.denoiser_pair(ctx.registry.entries(dataset))
    if pair is None:
        return None, None, _("No pair for {dataset} yet: this view needs an autoencoder trained on clean images "
                             "and one of the same architecture trained on one noise. Make them in the Train tab "
                             "(the same model and latent size; corruption none, then gaussian:0.5); an MLP "
                             "autoencoder (mlp_ae) shows the effect best: its filters are whole-image templates.",
                             dataset=dataset)
    a, b = pair
    fa, fb = inside.first_layer(a.model), inside.first_layer(b.model)
    total, shown = len(fa), _("all")
    images = ctx.images.get(dataset)
    if images is not None and len(images) and total > FILTERS_SHOWN:  # the units that fire, not dead ones
        x = images.floats(slice(0, min(len(images), 500)))
        fa, fb = fa[inside.most_active(a.model, x, FILTERS_SHOWN)], fb[inside.most_active(b.model, x, FILTERS_SHOWN)]
        shown = _("the {n} most active on test images, of {total}", n=FILTERS_SHOWN, total=total)
    ca, cb = inside.neighbour_correlation(fa), inside.neighbour_correlation(fb)
    text = _("`{a}` (clean) and `{b}` (denoiser, trained on {corruption}): {shown} filters of {h}×{w} each. "
             "Correlation of neighbouring weights: clean **{ca:.2f}**, denoiser **{cb:.2f}**.", a=a.name, b=b.name,
             corruption=b.corruption, shown=shown, h=fa.shape[-2], w=fa.shape[-1], ca=ca, cb=cb)
    return inside.filter_grid(fa), inside.filter_grid(fb), text


def build(ctx: Context) -> None:
    gr.Markdown(TEXT, latex_delimiters=LATEX, elem_id="filters-explain")
    with gr.Row():
        clean = gr.Image(label="trained on clean images", type="numpy", interactive=False, height=360, format="png",
                         buttons=[], elem_id="filters-clean")
        noisy = gr.Image(label="trained as a denoiser", type="numpy", interactive=False, height=360, format="png",
                         buttons=[], elem_id="filters-denoiser")
    info = gr.Markdown("", elem_id="filters-info")

    @safe
    def show(dataset):
        grid_a, grid_b, text = filters(ctx, dataset)
        return {clean: grid_a, noisy: grid_b, info: text}

    ctx.dataset.change(show, ctx.dataset, [clean, noisy, info], show_progress="hidden")
    ctx.load_events.append((show, [ctx.dataset], [clean, noisy, info]))


VIEW = Tab("inside-filters", "What the network learned", build)

"""Tab 5 — Inside a VAE: one image through a VAE step by step; an autoencoder and a VAE side by side;
reconstruction error as an "is this like my training data?" score."""

from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from vae_demo.app.common import LATEX, Context, as_tensor, safe, slider_moves
from vae_demo.app.figures import inside as inside_figures
from vae_demo.app.figures import latent as latent_figures
from vae_demo.app.registry import Registry, Tab
from vae_demo.data import DATASETS
from vae_demo.services import inside, latent
from vae_demo.services.errors import UserInputError
from vae_demo.services.images import display, grid

STEP_TEXT = r"""**One image, step by step.** The encoder does not give one code but a small cloud: a mean μ and a
width σ per dimension; the VAE draws ε ~ N(0, I), takes $z = \mu + \sigma\cdot\varepsilon$ and decodes it. The
loss is the reconstruction cost plus β times the KL, which charges for every dimension whose cloud is narrower
or off-centre compared with N(0, 1): dims that carry nothing sit at μ ≈ 0, σ ≈ 1 and cost nothing."""

PAIR_TEXT = r"""**Autoencoder vs VAE, same images, same latent size.** The VAE's KL term pulls its codes towards
N(0, 1) (histograms), so the same random points $z \sim \mathcal N(0, I)$, decoded by both below, look like data
for the VAE; the autoencoder's codes live wherever training put them (at z = 2 see its axes), and at z = 16 most
N(0, I) points fall where it has none and decode to nonsense."""

BLURRY_TEXT = r"""**Why restorations are blurry.** Many images fit what the corruption left (below: the most
consistent ones, the surviving pixels kept). A restorer trained to minimise squared error or cross-entropy
learns their *average*, the conditional mean $\mathbb E[x \mid \tilde x]$: hedging between the completions
costs less than betting on one, and an average of sharp images is a blurry one. The headings measure it (MSE)."""

FILTER_TEXT = r"""**What the network learned.** The first layer's filters of two autoencoders of the same architecture,
one trained to copy clean images and one to remove noise. In the classic experiment (a dense first layer,
whose filters are whole-image templates) the denoiser's turn into strokes and edges and the plain
autoencoder's stay noisy; small 3×3 conv kernels differ far less. The number under the grids measures
smoothness: the correlation of neighbouring weights (0 for noise, 1 for smooth)."""

ANOMALY_TEXT = r"""**Not like the training data?** A model reconstructs well only what resembles its training images, so
the reconstruction error is an anomaly score: compare this image's with the histogram of the test split's.
Try a Fashion-MNIST image on an MNIST model: its error lands far to the right. The other way round it fails:
a Fashion-MNIST model reconstructs MNIST digits (simple, mostly black) better than its own clothes."""

FILTERS_SHOWN = 64  # filters in each grid: the most active units
STEP_SIZE = 224  # 28×28 shown 8×: readable from the back of a classroom


def _test_image(ctx: Context, dataset: str, index) -> torch.Tensor:
    """Test image #index of ``dataset`` (1, C, H, W)."""
    s = ctx.images.get(dataset)
    if s is None or not len(s):
        raise UserInputError(f"no test images of {dataset} here: pick, upload or draw one in Corrupt & restore")
    i = int(min(max(int(np.nan_to_num(float(index or 0))), 0), len(s) - 1))
    return s.floats(slice(i, i + 1))


def build(ctx: Context) -> None:
    with gr.Tabs():
        for view in VIEWS:
            with gr.Tab(view.title, id=view.id):
                view.build(ctx)


# --- one image, step by step ------------------------------------------------------------------------

def _build_step(ctx: Context) -> None:
    gr.Markdown(STEP_TEXT, latex_delimiters=LATEX, elem_id="step-explain")
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
                             height=STEP_SIZE, format="png", buttons=[], elem_id="step-decoded")
            eps_slider = gr.Slider(-3, 3, value=0, step=0.05, label="ε of the busiest dim", elem_id="step-eps")
            numbers = gr.Markdown("", elem_id="step-numbers")
    eps_state = gr.State(None)  # the ε in use (all D values) and the dim its slider moves (the busiest)
    x_state = gr.State(None)  # the input in use

    def _outputs(e, x, w):
        top = int(w.order[0])
        return (display(x[0], STEP_SIZE), inside_figures.posterior_figure(w), inside_figures.elbo_figure(w),
                display(w.x_hat, STEP_SIZE), {"eps": w.eps.tolist(), "dim": top}, x.numpy(),
                gr.update(value=round(float(w.eps[top]), 2), label=f"ε of z[{top}], the busiest dim "
                          f"(σ = {w.sigma[top]:.2f}: how far one step of ε moves z)"),
                inside.walkthrough_text(w))

    outs = [x_img, post, elbo, x_hat, eps_state, x_state, eps_slider, numbers]

    @safe
    def show(dataset, name, x, i, s):
        e = ctx.registry.get(name, dataset, latent_code=True)
        t = _test_image(ctx, dataset, i) if x is None else as_tensor(x, dataset)  # the picked image (numpy)
        return _outputs(e, t, inside.walkthrough(e, t, seed=int(np.nan_to_num(float(s or 0)))))

    @safe
    def on_resample(dataset, name, x_in, i, s):
        s = int(np.nan_to_num(float(s or 0))) + 1
        e = ctx.registry.get(name, dataset, latent_code=True)
        t = torch.as_tensor(np.asarray(x_in, dtype=np.float32)) if x_in is not None else _test_image(ctx, dataset, i)
        return (*_outputs(e, t, inside.walkthrough(e, t, seed=s)), s)

    @safe
    def on_eps(dataset, name, x_in, eps, v):
        e = ctx.registry.get(name, dataset, latent_code=True)
        if eps is None or x_in is None:
            raise UserInputError("pick an image first")
        t = torch.as_tensor(np.asarray(x_in, dtype=np.float32))
        values = np.asarray(eps["eps"], dtype=np.float64)  # one pass per move: the dim is known from the last
        values[int(eps["dim"])] = float(np.clip(np.nan_to_num(float(v)), -3, 3))
        return _outputs(e, t, inside.walkthrough(e, t, eps=values))

    def relist(dataset, current):
        vaes = [e for e in ctx.registry.entries(dataset, latent_code=True) if e.is_vae]
        names = [e.name for e in vaes]
        plain = [e.name for e in vaes if getattr(e.model, "beta", 1.0) == 1.0 and not e.is_restorer]
        value = current if current in names else (plain or names or [None])[0]
        beta = {e.name: e.meta.get("hparams", {}).get("beta", 1.0) for e in vaes}
        short = [(e.name + (f" (β={beta[e.name]:g})" if beta[e.name] != 1.0 else "") + (" (yours)" if e.yours else ""),
                  e.name) for e in vaes]
        return gr.update(choices=short, value=value,
                         info=None if names else f"no VAE for {dataset} yet: train one in the Train tab")

    gr.on(ctx.model_triggers(), safe(relist), [ctx.dataset, model], model, show_progress="hidden")
    gr.on([model.change, index.submit, seed.submit], lambda d, n, i, s: show(d, n, None, i, s),
          [ctx.dataset, model, index, seed], outs, show_progress="hidden")
    use_current.click(show, [ctx.dataset, model, ctx.current, index, seed], outs, show_progress="hidden")
    resample.click(on_resample, [ctx.dataset, model, x_state, index, seed], [*outs, seed], show_progress="hidden",
                   api_name="resample_eps")
    gr.on(slider_moves(eps_slider), on_eps, [ctx.dataset, model, x_state, eps_state, eps_slider], outs,
          show_progress="hidden", trigger_mode="always_last")  # a drag, a typed ε, and its ↺
    ctx.load_events.append((relist, [ctx.dataset, model], [model]))


# --- AE vs VAE --------------------------------------------------------------------------------------

AE_MAP, VAE_MAP = "autoencoder: test codes", "VAE: test codes"


def _build_pair(ctx: Context) -> None:
    gr.Markdown(PAIR_TEXT, latex_delimiters=LATEX, elem_id="pair-explain")
    none = gr.Markdown("", visible=False, elem_id="pair-none")  # instead of the pictures: why there are none
    with gr.Column(elem_id="pair-body") as body:  # hidden, and emptied, where the dataset has no pair
        with gr.Row():
            ae_map = gr.Plot(label=AE_MAP, elem_id="pair-ae-map")
            vae_map = gr.Plot(label=VAE_MAP, elem_id="pair-vae-map")
            with gr.Column(min_width=300):
                size = gr.Radio([], label="latent size", show_label=False, container=False, elem_id="pair-size")
                hist = gr.Plot(label="codes per dim against N(0, 1)", elem_id="pair-hist")
        with gr.Row():
            with gr.Column():  # a heading above the draws, none over them
                gr.Markdown("**autoencoder**: decoded N(0, I) draws", elem_id="pair-ae-draws-head")
                ae_draws = gr.Image(label="autoencoder: decoded N(0, I) draws", show_label=False, type="numpy",
                                    interactive=False, height=135, format="png", buttons=[], elem_id="pair-ae-draws")
            with gr.Column():
                gr.Markdown("**VAE**: the same draws", elem_id="pair-vae-draws-head")
                vae_draws = gr.Image(label="VAE: the same draws", show_label=False, type="numpy", interactive=False,
                                     height=135, format="png", buttons=[], elem_id="pair-vae-draws")
            with gr.Column(min_width=300):
                redraw = gr.Button("Draw other points", size="sm", elem_id="pair-redraw")
                info = gr.Markdown("", elem_id="pair-info")
    seed = gr.State(0)

    @safe
    def show(dataset, z, s):
        entries = ctx.registry.entries(dataset, latent_code=True)
        pair = inside.matching_pair(entries, latent_dim=int(z) if z else None)
        if pair is None:
            raise UserInputError(f"no autoencoder and VAE of the same latent size for {dataset}: train them in the "
                                 "Train tab (same latent size, clean images)")
        ae, vae = pair
        figs, draws, codes = [], [], {}
        from vae_demo.data import dataset_info

        for e, kind in ((ae, "autoencoder"), (vae, "VAE")):
            m = latent.latent_map(e, ctx.images, "auto")
            fig = latent_figures.map_figure(m, dataset_info(dataset).class_names)
            fig.update_layout(height=250, showlegend=False, title=None, margin={"l": 40, "r": 10, "t": 30, "b": 30})
            figs.append(gr.update(value=fig, label=f"{kind} {e.name}: {m.note}"))
            draws.append(display(grid(inside.prior_draws(e, 16, int(s or 0)), 8, pad=1), 520))  # 2x: crisp
            codes[f"{kind} ({e.name})"] = m.latents
        ks = {k: inside.code_normality(v)["ks_mean"] for k, v in codes.items()}
        text = (f"z = {ae.latent_dim}, {len(next(iter(codes.values())))} test images. Distance of the codes from "
                "N(0, 1) per dim (Kolmogorov-Smirnov, 0 = identical, 1 = disjoint), averaged: "
                + "; ".join(f"{k}: **{v:.2f}**" for k, v in ks.items()) + ".")
        return figs[0], figs[1], draws[0], draws[1], inside_figures.histogram_figure(codes, height=210), text

    outs = [ae_map, vae_map, ae_draws, vae_draws, hist, info]

    @safe
    def refresh(dataset, current, s):
        """The latent sizes with a pair (the radio), then the pictures; where there is none, the pictures are
        hidden and emptied (no model names of another dataset left on screen) and a message says why."""
        sizes = inside.pair_sizes(ctx.registry.entries(dataset, latent_code=True))
        radio = gr.update(choices=[(f"z = {d}", d) for d in sizes], visible=bool(sizes),
                          value=current if current in sizes else (sizes or [None])[-1])  # the largest: see PAIR_TEXT
        if not sizes:
            return (radio, gr.update(visible=False), gr.update(visible=True, value=(
                f"**No pair for {dataset} yet.** This view needs an autoencoder and a VAE of the same latent size, "
                "both trained on clean images; the models here for it have none in common. Make them in the Train "
                "tab (conv_ae and conv_vae, or mlp_ae and mlp_vae, one latent size, corruption none).")),
                gr.update(value=None, label=AE_MAP), gr.update(value=None, label=VAE_MAP), None, None, None, "")
        return radio, gr.update(visible=True), gr.update(visible=False, value=""), *show(dataset, radio["value"], s)

    gr.on(ctx.model_triggers(), refresh, [ctx.dataset, size, seed], [size, body, none, *outs], show_progress="hidden")
    size.input(show, [ctx.dataset, size, seed], outs, show_progress="hidden")
    redraw.click(lambda s: int(s or 0) + 1, seed, seed).then(show, [ctx.dataset, size, seed], outs,
                                                             show_progress="hidden")
    ctx.load_events.append((refresh, [ctx.dataset, size, seed], [size, body, none, *outs]))


# --- why restorations are blurry --------------------------------------------------------------------

def _build_blurry(ctx: Context) -> None:
    gr.Markdown(BLURRY_TEXT, latex_delimiters=LATEX, elem_id="blurry-explain")
    with gr.Row():
        model = gr.Dropdown(label="Restorer", choices=[], elem_id="blurry-model", allow_custom_value=True, scale=4)
        spec = gr.Dropdown(list(inside.COMPLETION_SPECS), value=inside.BLURRY_SPEC, label="Corruption",
                           elem_id="blurry-spec", scale=1, min_width=140)
        index = gr.Number(label="test image #", value=0, precision=0, minimum=0, elem_id="blurry-index", scale=1,
                          min_width=110)
        go = gr.Button("Show the completions", variant="primary", elem_id="blurry-go")
    heads, pictures = [], []
    with gr.Row():  # a heading above each picture, none over it; height 198: the image 196 px (7× a 28×28 one)
        for key, head in (("corrupted", "what is left (corrupted)"), ("average", "average of the completions"),
                          ("restored", "the restorer's output")):
            with gr.Column(min_width=200):
                heads.append(gr.Markdown(f"**{head}**", elem_id=f"blurry-{key}-head"))
                pictures.append(gr.Image(label=head, show_label=False, type="numpy", interactive=False, height=198,
                                         format="png", buttons=[], elem_id=f"blurry-{key}"))
    with gr.Row(equal_height=False):  # the strip's heading beside it: the row stays one picture tall
        with gr.Column(scale=1, min_width=200):
            strip_head = gr.Markdown("**plausible completions** (the surviving pixels kept)",
                                     elem_id="blurry-strip-head")
        strip = gr.Image(label="plausible completions", show_label=False, type="numpy", interactive=False,
                         format="png", buttons=[], scale=3, elem_id="blurry-strip")
    verdict = gr.Markdown("", elem_id="blurry-verdict")
    corrupted, average, restored = pictures

    @safe
    def show_completions(dataset, name, sp, i):
        e = ctx.registry.get(name, dataset)
        x = _test_image(ctx, dataset, i)
        pool, where = inside.completion_pool(ctx.images, dataset)
        c = inside.completions(e, x, sp, pool, seed=int(np.nan_to_num(float(i or 0))), pool_name=where)
        k = len(c.candidates)
        return (display(c.corrupted, 196), display(c.mean, 196), display(c.restored, 196),
                latent.path_strip(c.candidates, height=108), inside.completions_text(c, e.name),
                f"**what is left** ({sp})", f"**average of the {k} completions**: {inside.mse_e3(c.mse_mean)} from the "
                "output (MSE)", f"**the restorer's output** (`{e.name}`)",
                f"**{k} plausible completions**, what is left kept, the most consistent with it first; the one "
                f"closest to the output is {inside.mse_e3(c.closest)} from it (MSE)")

    def relist_restorers(dataset, current, sp):
        entries = [e for e in ctx.registry.entries(dataset) if e.is_restorer]
        names = [e.name for e in entries]
        pick = inside.blurry_restorer(entries, sp or inside.BLURRY_SPEC)  # one trained on this corruption
        value = current if current in names else (pick.name if pick else None)
        # what matters here is what each was trained on: the name and that, in a line that fits
        return gr.update(choices=[(f"{e.name} — trained on {e.corruption}", e.name) for e in entries], value=value,
                         info=None if names else f"no restorer for {dataset} yet: train one (Train tab, corruption mix)")

    outs = [corrupted, average, restored, strip, verdict, *heads, strip_head]
    gr.on(ctx.model_triggers(), safe(relist_restorers), [ctx.dataset, model, spec], model,
          show_progress="hidden")
    gr.on([go.click, model.change, spec.change, index.submit], show_completions, [ctx.dataset, model, spec, index],
          outs, show_progress="minimal")
    ctx.load_events.append((relist_restorers, [ctx.dataset, model, spec], [model]))


# --- what the network learned -----------------------------------------------------------------------

def _build_filters(ctx: Context) -> None:
    gr.Markdown(FILTER_TEXT, latex_delimiters=LATEX, elem_id="filters-explain")
    with gr.Row():
        clean = gr.Image(label="trained on clean images", type="numpy", interactive=False, height=360, format="png",
                         buttons=[], elem_id="filters-clean")
        noisy = gr.Image(label="trained as a denoiser", type="numpy", interactive=False, height=360, format="png",
                         buttons=[], elem_id="filters-denoiser")
    info = gr.Markdown("", elem_id="filters-info")

    @safe
    def show(dataset):
        pair = inside.denoiser_pair(ctx.registry.entries(dataset))
        if pair is None:
            return None, None, (f"No pair for {dataset} yet: this view needs an autoencoder trained on clean images "
                                "and one of the same architecture trained on one noise. Make them in the Train tab "
                                "(the same model and latent size; corruption none, then gaussian:0.5); an MLP "
                                "autoencoder (mlp_ae) shows the effect best: its filters are whole-image templates.")
        a, b = pair
        fa, fb = inside.first_layer(a.model), inside.first_layer(b.model)
        total, shown = len(fa), "all"
        images = ctx.images.get(dataset)
        if images is not None and len(images) and total > FILTERS_SHOWN:  # the units that fire, not dead ones
            x = images.floats(slice(0, min(len(images), 500)))
            fa, fb = fa[inside.most_active(a.model, x, FILTERS_SHOWN)], fb[inside.most_active(b.model, x, FILTERS_SHOWN)]
            shown = f"the {FILTERS_SHOWN} most active on test images, of {total}"
        ca, cb = inside.neighbour_correlation(fa), inside.neighbour_correlation(fb)
        text = (f"`{a.name}` (clean) and `{b.name}` (denoiser, trained on {b.corruption}): {shown} filters of "
                f"{fa.shape[-2]}×{fa.shape[-1]} each. Correlation of neighbouring weights: clean **{ca:.2f}**, "
                f"denoiser **{cb:.2f}**.")
        return inside.filter_grid(fa), inside.filter_grid(fb), text

    outs = [clean, noisy, info]
    ctx.dataset.change(show, ctx.dataset, outs, show_progress="hidden")
    ctx.load_events.append((show, [ctx.dataset], outs))


# --- anomaly ----------------------------------------------------------------------------------------

def _build_anomaly(ctx: Context) -> None:
    gr.Markdown(ANOMALY_TEXT, latex_delimiters=LATEX, elem_id="anomaly-explain")
    with gr.Row():
        with gr.Column(scale=1, min_width=440):  # two images side by side, each 196 px (7× a 28×28 one)
            model = gr.Dropdown(label="Model", choices=[], elem_id="anomaly-model", allow_custom_value=True)
            with gr.Row():  # headings above the pictures, no label drawn over them
                with gr.Column(min_width=120):
                    gr.Markdown("**the image**")
                    x_img = gr.Image(label="the image", show_label=False, type="numpy", interactive=False, height=198,
                                     format="png", buttons=[], elem_id="anomaly-input")
                with gr.Column(min_width=120):
                    gr.Markdown("**its reconstruction**")
                    recon = gr.Image(label="its reconstruction", show_label=False, type="numpy", interactive=False,
                                     height=198, format="png", buttons=[], elem_id="anomaly-recon")
            with gr.Row():
                use_current = gr.Button("Score the image picked in Corrupt & restore", size="sm",
                                        elem_id="anomaly-current")
                other = gr.Button("Score an image of another dataset", size="sm", variant="primary",
                                  elem_id="anomaly-other")
        with gr.Column(scale=2):
            hist = gr.Plot(label="reconstruction error: this image against the test split", elem_id="anomaly-hist")
            verdict = gr.Markdown("", elem_id="anomaly-verdict")
    n_other = gr.State(0)

    def _score(dataset, name, x, where):
        e = ctx.registry.get(name, dataset)
        if e.is_restorer or not e.has_latent_code:
            raise UserInputError(f"{e.name} was trained to restore: pick a model trained on clean images")
        ref = inside.test_scores(e, ctx.images)
        score = float(inside.anomaly_scores(e, x)[0])
        p = inside.percentile_of(score, ref)
        with torch.no_grad():
            r = e.model.reconstruct(x)[0]
        auc = e.meta.get("benchmark", {}).get("anomaly", {})
        auc_text = "; ".join(f"as a detector of {k} images: ROC AUC **{v['auc']:.3f}** ({v['test_images']} + "
                             f"{v['other_images']} test images)" for k, v in auc.items()
                             if isinstance(v, dict) and "auc" in v)  # beside them: when and how it was measured
        text = (f"{where}: reconstruction error **{score:.1f}**, above {p:.0%} of {len(ref)} {dataset} test images"
                + (" — unlike the training data." if p > 0.99 else " — like the training data." if p < 0.9 else ".")
                + (f" Measured on the full test splits, this score {auc_text}." if auc_text else ""))
        return display(x[0], 196), display(r, 196), _hist_figure(ref, score, dataset), text

    @safe
    def on_current(dataset, name, x):
        return _score(dataset, name, as_tensor(x, dataset), "The picked image")

    @safe
    def on_other(dataset, name, k):
        own = ctx.images.get(dataset)
        for d in DATASETS:
            s = ctx.images.get(d) if d != dataset else None
            if s is None or own is None or s.floats(slice(0, 1)).shape != own.floats(slice(0, 1)).shape:
                continue
            i = int(np.nan_to_num(float(k or 0))) % len(s)
            return (*_score(dataset, name, s.floats(slice(i, i + 1)), f"{d} test image #{i}"), i + 1)
        raise UserInputError(f"no other dataset with {dataset}'s image size here (CIFAR-10 is 32×32 colour)")

    @safe
    def on_model(dataset, name):
        s = ctx.images.get(dataset)
        if not name or s is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return _score(dataset, name, s.floats(slice(0, 1)), f"{dataset} test image #0")

    def relist(dataset, current):
        entries = [e for e in ctx.registry.entries(dataset, latent_code=True) if not e.is_restorer]
        names = [e.name for e in entries]
        vaes = [e.name for e in entries if e.is_vae and getattr(e.model, "beta", 1.0) == 1.0]
        value = current if current in names else (vaes or names or [None])[0]
        return gr.update(choices=[(e.label, e.name) for e in entries], value=value)

    outs = [x_img, recon, hist, verdict]
    gr.on(ctx.model_triggers(), safe(relist), [ctx.dataset, model], model, show_progress="hidden")
    model.change(on_model, [ctx.dataset, model], outs, show_progress="hidden")
    use_current.click(on_current, [ctx.dataset, model, ctx.current], outs, show_progress="hidden")
    other.click(on_other, [ctx.dataset, model, n_other], [*outs, n_other], show_progress="hidden")
    ctx.load_events.append((relist, [ctx.dataset, model], [model]))


def _hist_figure(ref: np.ndarray, score: float, dataset: str):
    import plotly.graph_objects as go

    hi = max(float(np.percentile(ref, 99.5)), score) * 1.05
    fig = go.Figure(go.Histogram(x=np.clip(ref, 0, hi), nbinsx=50, name=f"{dataset} test images",
                                 marker={"color": "#4c78a8"}))
    fig.add_vline(x=score, line_width=3, line_color="#e45756")
    fig.add_annotation(x=score, yref="paper", y=1.0, text="this image", showarrow=False, font={"color": "#e45756"},
                       xanchor="left")
    fig.update_layout(height=380, template="plotly_white", margin={"l": 40, "r": 10, "t": 30, "b": 40},
                      xaxis_title="reconstruction error (the model's own loss term)", yaxis_title="test images",
                      showlegend=False, font={"size": 13})
    return fig


VIEWS = Registry()  # the views, in the order they are shown
VIEWS.register(Tab("inside-step", "One image, step by step", _build_step))
VIEWS.register(Tab("inside-pair", "AE vs VAE", _build_pair))
VIEWS.register(Tab("inside-blurry", "Why restorations are blurry", _build_blurry))
VIEWS.register(Tab("inside-filters", "What the network learned", _build_filters))
VIEWS.register(Tab("inside-anomaly", "Not like the training data?", _build_anomaly))
TAB = Tab("inside", "Inside a VAE", build, views=VIEWS)

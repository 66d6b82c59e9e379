"""Inside a VAE (vae_demo/services/inside.py): the numbers the teaching views show, checked against the
model's own computations; the AE-vs-VAE and anomaly views on the committed checkpoints and the shipped
sample of test images."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_demo.data import load_sample
from vae_demo.services import inside
from vae_demo.services.images import UserInputError
from vae_demo.services.registry import ModelRegistry

CKPT = Path(__file__).resolve().parent.parent / "checkpoints"


@pytest.fixture(scope="module")
def registry():
    return ModelRegistry(CKPT, user_directory=CKPT / "__none__")


@pytest.fixture(scope="module")
def mnist():
    return load_sample("mnist").floats()


def test_the_walkthrough_shows_the_models_own_numbers(registry, mnist):
    e = registry.get("mnist_conv_vae_z16", "mnist")
    x = mnist[:1]
    w = inside.walkthrough(e, x, seed=5)
    with torch.no_grad():
        q = e.model.posterior(x)
    assert np.allclose(w.mu, q.mu[0].double().numpy()) and np.allclose(w.sigma, q.std[0].double().numpy())
    closed = 0.5 * (w.mu ** 2 + w.sigma ** 2 - 1 - np.log(w.sigma ** 2))  # KL to N(0, 1), per dim
    assert np.allclose(w.kl_per_dim, closed, atol=1e-6) and w.kl == pytest.approx(closed.sum(), abs=1e-5)
    assert np.array_equal(w.z, w.mu + w.sigma * w.eps)  # z = μ + σ·ε, exactly
    assert np.array_equal(w.eps, inside.draw_eps(16, 5))
    torch.manual_seed(11)  # the model's own loss draws ε with randn_like: the same draw gives the same terms
    with torch.no_grad():
        own = e.model.loss(x)
    torch.manual_seed(11)
    eps = torch.randn(1, 16).double().numpy()
    w2 = inside.walkthrough(e, x, eps=eps)
    assert w2.recon == pytest.approx(float(own["recon"]), rel=1e-5)
    assert w2.kl == pytest.approx(float(own["kl"]), rel=1e-5) and w2.loss == pytest.approx(float(own["loss"]), rel=1e-5)
    assert w.uninformed == pytest.approx(784 * math.log(2), rel=1e-6)  # BCE against 0.5 everywhere
    assert w.recon < 0.5 * w.uninformed  # the model knows much more than nothing
    assert w.order[0] == int(np.argmax(w.kl_per_dim)) and w.x_hat.shape == (1, 28, 28)


def test_moving_one_eps_dim_moves_z_and_the_image(registry, mnist):
    e = registry.get("mnist_conv_vae_z16", "mnist")
    w = inside.walkthrough(e, mnist[:1], seed=0)
    top = int(w.order[0])
    eps = w.eps.copy()
    eps[top] += 2.5
    w2 = inside.walkthrough(e, mnist[:1], eps=eps)
    moved = np.flatnonzero(w2.z != w.z)
    assert moved.tolist() == [top] and w2.z[top] - w.z[top] == pytest.approx(2.5 * w.sigma[top])
    assert float((w2.x_hat - w.x_hat).abs().max()) > 0.01
    with pytest.raises(UserInputError, match="16 finite numbers"):
        inside.walkthrough(e, mnist[:1], eps=[0.0] * 3)
    with pytest.raises(UserInputError, match="not a VAE"):
        inside.walkthrough(registry.get("mnist_conv_ae_z16", "mnist"), mnist[:1])


def test_the_matching_pair_and_the_normality_of_their_codes(registry, mnist):
    pair = inside.matching_pair(registry.entries("mnist"))
    assert pair is not None
    ae, vae = pair
    assert (ae.name, vae.name) == ("mnist_conv_ae_z16", "mnist_conv_vae_z16")
    with torch.no_grad():
        n_ae = inside.code_normality(ae.model.embed(mnist).numpy())
        n_vae = inside.code_normality(vae.model.embed(mnist).numpy())
    assert n_vae["ks_mean"] < n_ae["ks_mean"]  # the KL term pulls a VAE's codes towards N(0, 1)
    assert np.all(np.abs(n_vae["mean"]) < 1.5)
    a, b = inside.prior_draws(ae, 6, seed=2), inside.prior_draws(vae, 6, seed=2)
    assert a.shape == b.shape == (6, 1, 28, 28)
    fig = inside.histogram_figure({"AE": np.zeros((5, 16)), "VAE": np.ones((5, 16))})
    assert sum(t.name == "N(0, 1)" for t in fig.data) == 4 and sum(t.name == "VAE" for t in fig.data) == 4


def test_ae_vs_vae_offers_each_latent_size_with_a_pair_smallest_first(registry, mnist):
    """The committed MNIST pairs: z = 2 (MLPs, a map with no projection) and z = 16 (conv); the tab opens
    on z = 16, offers both, and names the models it shows."""
    from tests.test_codes import tab_handler
    from vae_demo.services.jobs import JobManager
    from vae_demo.services.testdata import TestImages
    from vae_demo.ui import inside as inside_tab
    from vae_demo.ui.common import Context

    entries = registry.entries("mnist")
    assert inside.pair_sizes(entries) == [2, 16]
    assert inside.pair_sizes(registry.entries("cifar10")) == []
    ae, vae = inside.matching_pair(entries, latent_dim=2)
    assert (ae.name, vae.name) == ("mnist_mlp_ae_z2", "mnist_mlp_vae_z2")
    with torch.no_grad():
        n_ae, n_vae = (inside.code_normality(e.model.embed(mnist).numpy()) for e in (ae, vae))
    assert n_vae["ks_mean"] < n_ae["ks_mean"]
    fig = inside.histogram_figure({"AE": np.zeros((5, 2)), "VAE": np.ones((5, 2))})
    assert sum(t.name == "N(0, 1)" for t in fig.data) == 2  # one panel per dim, no empty ones

    ctx = Context(registry, TestImages("__no_data__"), JobManager(registry))
    refresh = tab_handler(ctx, inside_tab, "refresh")
    radio, ae_map, vae_map, ae_draws, vae_draws, hist, text = refresh("mnist", None, 0)
    assert radio["value"] == 16 and [v for _, v in radio["choices"]] == [2, 16]  # opens where draws tell AE from VAE
    assert "z = 16" in text and "mnist_conv_ae_z16" in ae_map["label"] and "PCA" in ae_map["label"]
    radio, ae_map, vae_map, ae_draws, vae_draws, hist, text = refresh("mnist", 2, 0)
    assert radio["value"] == 2 and "z = 2" in text and "mnist_mlp_ae_z2" in text
    assert ae_map["label"] == "autoencoder mnist_mlp_ae_z2: the latent space itself (z is 2-D)"
    assert len(ae_map["value"].data) == 10  # one trace per digit class
    assert ae_draws.shape == vae_draws.shape == (2 * 59, 2 * 233)  # 2 rows of 8 grey draws, pixels doubled
    out = tab_handler(ctx, inside_tab, "refresh")("cifar10", 2, 0)
    assert out[0]["visible"] is False and out[1] is None and "No pair for cifar10" in out[-1]


def test_the_denoisers_dense_filters_are_smoother_than_the_plain_autoencoders(registry, mnist):
    """Seed 003's picture on the committed pair (same MLP, z = 2; clean vs gaussian:0.5): the 64 most
    active first-layer templates of the denoiser are far smoother (measured 0.46 vs 0.79 on 500 test images)."""
    a, b = inside.denoiser_pair(registry.entries("mnist"))
    assert (a.name, b.name) == ("mnist_mlp_ae_z2", "mnist_mlp_ae_z2_gaussian")
    fa, fb = (inside.first_layer(e.model)[inside.most_active(e.model, mnist, 64)] for e in (a, b))
    assert fa.shape == fb.shape == (64, 1, 28, 28)
    ca, cb = inside.neighbour_correlation(fa), inside.neighbour_correlation(fb)
    assert cb > ca + 0.15, (ca, cb)


def test_roc_auc_and_fashion_as_out_of_distribution_for_mnist(registry, mnist):
    assert inside.roc_auc([1, 2, 3], [4, 5]) == 1.0 and inside.roc_auc([4, 5], [1, 2, 3]) == 0.0
    assert inside.roc_auc([1, 2], [2, 3]) == pytest.approx(0.875)  # one tie counts half
    e = registry.get("mnist_conv_vae_z16", "mnist")
    fashion = load_sample("fashion-mnist").floats()
    s_in, s_out = inside.anomaly_scores(e, mnist), inside.anomaly_scores(e, fashion)
    with torch.no_grad():
        own = e.model.recon_loss(e.model.decode_logits(e.model.embed(mnist[:4])), mnist[:4]).double().numpy()
    assert np.allclose(s_in[:4], own)
    assert inside.roc_auc(s_in, s_out) > 0.9
    assert inside.percentile_of(float(np.median(s_in)), s_in) == pytest.approx(0.5, abs=0.02)


def test_the_restorers_output_is_closer_to_the_completions_average_than_to_any_one(registry, shared_data):
    """E[x | what is left] made visible: on fixed MNIST test images with a 12-pixel block erased, the
    restorer (trained on mix, its loss minimised by the conditional mean) sits nearer the average of the
    plausible completions than any single completion, for most images."""
    from vae_demo.data import load_dataset

    train = load_dataset("mnist", "train", shared_data, download=False)
    test = load_dataset("mnist", "test", shared_data, download=False)
    restorer = registry.get("mnist_restorer", "mnist")
    wins = 0
    for i in range(10):
        c = inside.completions(restorer, test.floats(slice(i, i + 1)), "block:12", train.images[:20000], seed=i,
                               k=8, pool_name="the first 20,000 training images")
        assert c.candidates.shape == (8, 1, 28, 28) and np.isclose(c.mse_mean, float(((c.mean - c.restored) ** 2).mean()))
        wins += c.mse_mean < c.mse_each.min()
    assert wins >= 8, wins


def test_first_layer_filters_and_their_smoothness():
    from vae_demo.models import build_model

    m = build_model("conv_ae", (1, 28, 28), 4)
    f = inside.first_layer(m)
    assert torch.equal(f, m.encoder[0].weight.detach()) and f.shape == (32, 1, 3, 3)
    mlp = build_model("mlp_ae", (1, 28, 28), 4, hidden=10)
    assert inside.first_layer(mlp).shape == (10, 1, 28, 28)
    smooth = torch.linspace(0, 1, 28).view(1, 1, 1, 28).expand(4, 1, 28, 28)  # ramps: neighbours agree
    noise = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert inside.neighbour_correlation(smooth) > 0.9 and abs(inside.neighbour_correlation(noise)) < 0.1
    assert inside.filter_grid(noise, columns=2).ndim == 2


def test_most_active_ranks_first_layer_units_by_their_mean_output():
    from vae_demo.models import build_model

    mlp = build_model("mlp_ae", (1, 28, 28), 2, hidden=6).eval()
    with torch.no_grad():
        mlp.fc1.weight.zero_()
        mlp.fc1.bias.copy_(torch.tensor([0.0, 3.0, -1.0, 1.0, 2.0, -5.0]))  # constant outputs: relu ranks them
    x = torch.rand(5, 1, 28, 28)
    assert inside.most_active(mlp, x, 3).tolist() == [1, 4, 3]
    conv = build_model("conv_ae", (1, 28, 28), 4).eval()
    with torch.no_grad():
        conv.encoder[0].bias.copy_(torch.arange(32.0) * -1)  # unit 0 the most active
        conv.encoder[0].weight.mul_(0.01)
    idx = inside.most_active(conv, x, 32)
    assert sorted(idx.tolist()) == list(range(32)) and idx[0] == 0


def test_the_anomaly_view_quotes_the_benchmarks_auc(registry):
    """On the committed checkpoints (whose JSON holds the anomaly benchmark, with its date and command)."""
    from tests.test_codes import tab_handler
    from vae_demo.services.jobs import JobManager
    from vae_demo.services.testdata import TestImages
    from vae_demo.ui import inside as inside_tab
    from vae_demo.ui.common import Context

    ctx = Context(registry, TestImages("__no_data__"), JobManager(registry))
    x, recon, fig, text = tab_handler(ctx, inside_tab, "on_model")("mnist", "mnist_conv_vae_z16")
    auc = registry.get("mnist_conv_vae_z16").meta["benchmark"]["anomaly"]["fashion-mnist"]["auc"]
    assert f"ROC AUC **{auc:.3f}**" in text and "mnist test image #0" in text
    assert x.shape == (196, 196) and recon.shape == (196, 196)


def test_the_step_view_takes_the_image_picked_in_the_restore_tab(registry, mnist):
    from tests.test_codes import tab_handler
    from vae_demo.services.jobs import JobManager
    from vae_demo.services.testdata import TestImages
    from vae_demo.ui import inside as inside_tab
    from vae_demo.ui.common import Context

    ctx = Context(registry, TestImages("__no_data__"), JobManager(registry))
    show = tab_handler(ctx, inside_tab, "show")  # the first view's
    picked = mnist[5:6].numpy()  # the shared current image, as the restore tab stores it
    out = show("mnist", "mnist_conv_vae_z16", picked, 0, 3)
    w = inside.walkthrough(registry.get("mnist_conv_vae_z16"), mnist[5:6], seed=3)
    assert np.allclose(out[4]["eps"], w.eps) and np.array_equal(out[5], picked)  # ε and the input in use
    assert out[4]["dim"] == int(w.order[0])  # the dim the ε slider moves: the busiest
    assert f"{w.recon:.1f}" in out[-1]

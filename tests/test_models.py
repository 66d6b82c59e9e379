import math

import pytest
import torch

from tests.helpers.images import batch
from vae_demo.models import MODELS, build_model
from vae_demo.models.base import VAE

SHAPES = [(1, 28, 28), (3, 32, 32)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_every_model_learns_and_keeps_the_interface(kind, shape):
    torch.manual_seed(0)
    x = batch(shape)
    m = build_model(kind, shape, 8)
    if not m.trainable:
        before = float(m.loss(x)["loss"])
        m.fit(x)
        after = float(m.loss(x)["loss"])
    else:
        opt = torch.optim.Adam(m.parameters(), lr=3e-3)
        with torch.no_grad():
            before = float(m.loss(x)["recon"])
        for _ in range(40):
            terms = m.loss(x)
            opt.zero_grad()
            terms["loss"].backward()
            opt.step()
        with torch.no_grad():
            after = float(m.loss(x)["recon"])
    assert after < 0.8 * before, (before, after)
    # interface: shapes, ranges, names
    with torch.no_grad():
        z = m.embed(x)
        if m.discrete:  # the encoder's vectors before quantisation, flattened: one of latent_dim per cell
            h, w = m.code_grid
            assert z.shape == (64, 8 * h * w) and m.latent_dim == 8 and m.codebook().shape == (m.codebook_size, 8)
            codes = m.codes(x)
            assert codes.shape == (64, h, w) and codes.dtype == torch.int64
            assert int(codes.min()) >= 0 and int(codes.max()) < m.codebook_size
            assert torch.allclose(m.decode_codes(codes), m.decode(z), atol=1e-5)  # decode quantises
            assert m.latent_bits() == pytest.approx(h * w * math.log2(m.codebook_size))
        elif m.has_latent_code:
            # z, then a conditional model's class weights
            assert z.shape == (64, 8 + m.num_classes) == (64, m.code_length) and m.latent_dim == 8
            assert m.latent_bits() is None
        else:  # feature maps of every level (U-Net); the coarsest has latent_dim channels
            assert z[-1].shape[:2] == (64, 8) and z[-1].shape[-1] < shape[-1]
        y = m.reconstruct(x)
        assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
        assert torch.equal(y, m.reconstruct(x))  # deterministic: posterior mean, no sampling
        assert m.decode(z).shape == x.shape
        terms = m.loss(x)
        assert "loss" in terms and "recon" in terms and all(t.ndim == 0 for t in terms.values())
        if isinstance(m, VAE):
            mu, logvar = m.encode(x)[:2]  # a conditional model's encoder also gives its class
            assert mu.shape == logvar.shape == (64, 8) and torch.equal(mu, z[:, :8])
            assert "kl" in terms and float(terms["kl"]) >= 0
            assert m.generative and m.sample(5).shape == (5, *shape)
        else:
            assert not m.generative
            with pytest.raises(NotImplementedError, match="not generative"):
                m.sample(2)


def test_kl_closed_form_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.randn(4, 6)
    logvar = torch.randn(4, 6) * 0.5
    closed = VAE.kl(mu, logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    assert torch.allclose(closed, mc, rtol=0.02, atol=0.02), (closed, mc)


def test_beta_weights_the_kl():
    torch.manual_seed(0)
    x = batch((1, 28, 28), 8)
    m = build_model("mlp_vae", (1, 28, 28), 4, beta=4.0)
    with torch.no_grad():
        t = m.loss(x)
    assert math.isclose(float(t["loss"]), float(t["recon"] + 4.0 * t["kl"]), rel_tol=1e-5)


def test_pca_full_rank_reconstructs_exactly():
    shape = (1, 8, 8)
    x = torch.rand(500, *shape) * 0.8 + 0.1
    m = build_model("pca", shape, 64, max_components=64)
    m.fit(x)
    assert torch.allclose(m.reconstruct(x), x, atol=1e-4)
    ratio = m.variances[:-1] / m.variances[1:].clamp_min(1e-12)
    assert torch.all(ratio >= 1 - 1e-6)  # components ordered by variance
    # fewer components: error grows as d shrinks
    errs = []
    for d in (4, 16, 64):
        m.latent_dim = d
        errs.append(float((m.reconstruct(x) - x).pow(2).mean()))
    assert errs[0] > errs[1] > errs[2]


def test_mse_recon_and_bad_arguments():
    x = batch((1, 28, 28), 4)
    m = build_model("conv_ae", (1, 28, 28), 3, recon="mse")
    with torch.no_grad():
        assert math.isclose(float(m.loss(x)["recon"]),
                            float((m.reconstruct(x) - x).pow(2).flatten(1).sum(1).mean()), rel_tol=1e-5)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("gan", (1, 28, 28), 2)
    with pytest.raises(ValueError, match="recon"):
        build_model("conv_vae", (1, 28, 28), 2, recon="l1")


def test_denoising_loss_targets_the_clean_image():
    torch.manual_seed(0)
    clean = batch((1, 28, 28), 16)
    noisy = (clean + 0.3 * torch.randn_like(clean)).clamp(0, 1)
    m = build_model("conv_ae", (1, 28, 28), 8)
    with torch.no_grad():
        a = float(m.loss(noisy, clean)["recon"])
        b = float(m.loss(noisy)["recon"])
    assert a != b


@pytest.mark.parametrize("shape", [(1, 27, 27), (3, 30, 31), (1, 5, 9)])
def test_unet_handles_odd_sizes(shape):
    m = build_model("unet", shape, 8, channels=(4, 6))
    x = torch.rand(3, *shape)
    with torch.no_grad():
        assert m.reconstruct(x).shape == x.shape


def test_unet_skips_beat_a_bottleneck_at_copying_detail():
    """Random noise images cannot be squeezed through an 8-dim code, but a U-Net can pass them on."""
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16)
    errs = {}
    for kind in ("conv_ae", "unet"):
        m = build_model(kind, (1, 16, 16), 8, recon="mse", channels=(8, 16))
        opt = torch.optim.Adam(m.parameters(), lr=3e-3)
        for _ in range(150):
            loss = m.loss(x)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            errs[kind] = float((m.reconstruct(x) - x).pow(2).mean())
    assert errs["unet"] < 0.25 * errs["conv_ae"], errs
    assert errs["conv_ae"] > 0.04  # the bottleneck really loses most of the noise (variance 1/12)


def test_mask_input_is_one_more_channel_and_none_means_zeros():
    torch.manual_seed(0)
    m = build_model("unet", (3, 12, 12), 8, channels=(8, 8), mask_input=True)
    assert m.mask_input and m.hparams()["mask_input"] is True
    assert m.down[0][0].in_channels == 4  # RGB + the mask
    assert m.head.in_channels == 8 + 3  # the decoder reuses the image, not the mask
    x = torch.rand(2, 3, 12, 12)
    mask = torch.zeros(2, 1, 12, 12)
    mask[:, :, 3:8, 3:8] = 1
    with torch.no_grad():
        none, zeros, given = m.reconstruct(x), m.reconstruct(x, torch.zeros_like(mask)), m.reconstruct(x, mask)
        assert none.shape == x.shape and torch.equal(none, zeros)
        assert float((given - none).abs().max()) > 1e-4
        assert float(m.loss(x, x, mask)["loss"]) != float(m.loss(x, x)["loss"])
    plain = build_model("unet", (3, 12, 12), 8, channels=(8, 8))
    assert "mask_input" not in plain.hparams() and plain.down[0][0].in_channels == 3
    with torch.no_grad():  # models without a mask input ignore one
        assert torch.equal(plain.reconstruct(x, mask), plain.reconstruct(x))
    assert not MODELS["conv_ae"].takes("mask_input") and MODELS["unet"].takes("mask_input")
    with pytest.raises(TypeError):
        build_model("conv_ae", (1, 28, 28), 8, mask_input=True)


def test_a_mask_input_model_knows_an_erased_zero_from_a_black_pixel():
    """Random black/white pixels, half erased to 0: without the mask an input 0 is ambiguous (best
    guess 1/3, MSE 1/6 per pixel); given the mask, an observed 0 is certain (MSE 1/8). Measured on
    images the models did not train on."""
    from vae_demo.corruptions import corrupt

    torch.manual_seed(0)
    x = (torch.rand(512, 1, 8, 8) < 0.5).float()
    y, mask = corrupt(x, "erasure:0.5", seed=1)
    (x, x_test), (y, y_test), (mask, mask_test) = (t.split(256) for t in (x, y, mask))
    errs = {}
    for use_mask in (False, True):
        torch.manual_seed(0)
        m = build_model("unet", (1, 8, 8), 8, recon="mse", channels=(8, 8), mask_input=use_mask)
        opt = torch.optim.Adam(m.parameters(), lr=3e-3)
        for _ in range(150):
            opt.zero_grad()
            m.loss(y, x, mask)["loss"].backward()
            opt.step()
        with torch.no_grad():
            errs[use_mask] = float((m.reconstruct(y_test, mask_test) - x_test).pow(2).mean())
    assert errs[True] < 0.14 < 0.155 < errs[False]


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_every_model_says_what_it_is_and_how_its_latent_dims_read(kind):
    """The app orders sliders and labels models from the model itself, never from its name."""
    model = build_model(kind, (1, 28, 28), 6)
    assert isinstance(model.family, str) and model.family
    if not model.has_latent_code:
        return
    x = torch.rand(40, 1, 28, 28)
    if not model.trainable:
        model.fit(torch.rand(200, 1, 28, 28))
    codes = model.embed(x).detach()
    r = model.latent_scores(x, codes)
    if model.discrete:  # one score per codebook entry: its share of the test images' cells
        k = model.codebook_size
        counts = torch.bincount(model.codes(x).flatten(), minlength=k).double()
        assert r.score.shape == (k,) and torch.allclose(r.score, counts / counts.sum())
        assert r.what and r.unit.format(0.5)
        return
    n = model.code_length  # the latent dims, then a conditional model's class weights (scored below any dim)
    assert all(t.shape == (n,) for t in (r.mean, r.std, r.score)) and bool((r.std > 0).all())
    assert bool((r.score[6:] < r.score[:6].min()).all())
    r = r._replace(mean=r.mean[:6], std=r.std[:6], score=r.score[:6])
    assert r.what and r.unit.format(1.0)
    if model.generative:  # the prior's units, and the mean KL per dim in closed form
        mu, logvar = model.encode(x)[:2]
        kl = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).double().mean(0)
        assert torch.allclose(r.score, kl) and torch.equal(r.mean, torch.zeros(6, dtype=torch.float64))
        assert model.latent_scores(None, codes).what.startswith("variance of the posterior means")
    elif kind == "pca":
        assert torch.allclose(r.score, model.variances[:6].double())
    else:
        assert torch.allclose(r.score, codes.double().var(0, unbiased=False))
    assert model.latent_scores(None, None).score.shape == (n,) or kind == "pca"


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_every_model_gives_its_posterior_as_an_object(kind):
    model = build_model(kind, (1, 28, 28), 5)
    x = torch.rand(7, 1, 28, 28)
    if not model.has_latent_code:
        return
    if not model.trainable:
        model.fit(torch.rand(100, 1, 28, 28))
    q = model.posterior(x)
    assert torch.equal(q.mode(), model.embed(x))
    a = q.sample(torch.Generator().manual_seed(3))
    width = 5 * math.prod(model.code_grid) if model.discrete else 5 + model.num_classes  # a cVAE's code: z, class
    assert a.shape == q.mode().shape == (7, width) == (7, model.code_length)
    if not model.discrete:  # a draw's whole code carries the same class as the mode's
        assert torch.equal(q.code(a[:, :5])[:, 5:], q.mode()[:, 5:])
    if model.generative:
        assert torch.equal(a, q.sample(torch.Generator().manual_seed(3))) and not torch.equal(a, q.mode())
        assert torch.allclose(q.kl(), type(model).kl(q.mu, q.logvar)) and q.kl().shape == (7,)
        assert torch.allclose(q.kl(), q.kl_per_dim().sum(1))
    else:
        assert torch.equal(a, q.mode()) and q.kl() is None  # a code, no prior

"""β and the rate–distortion plane (vae_demo/services/rate.py and its Inside view): the family is found from the
models, each point is the model's own loss on the same images, and fewer dims stay active as β grows."""

from pathlib import Path

import numpy as np
import pytest
import torch

from vae_demo.app.figures import rate as figures
from vae_demo.services import rate
from vae_demo.services.testdata import TestImages


@pytest.fixture(scope="module")
def registry(committed_registry):
    return committed_registry


@pytest.fixture(scope="module")
def images():
    return TestImages(Path("__no_data__"))  # the shipped sample (get() never downloads)


@pytest.fixture(scope="module")
def family(registry):
    return rate.beta_family(registry.entries("mnist", latent_code=True))


def test_the_mnist_family_is_one_architecture_across_beta(family):
    betas = [e.beta for e in family]
    assert betas == sorted(betas) and len(betas) >= 6 and betas[0] <= 0.1 and betas[-1] >= 8
    assert len({(e.kind, e.latent_dim, str({k: v for k, v in e.model.hparams().items() if k != "beta"}))
                for e in family}) == 1
    assert all(not e.is_conditional and not e.is_restorer for e in family)


def test_each_point_is_the_models_own_loss_on_the_same_images(family, images):
    x = images.get("mnist").floats(slice(0, rate.RD_IMAGES))
    for e in family:
        p = rate.point(e, images)
        assert p.images == len(x)
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(rate.LOSS_SEED)
            t = e.model.loss(x)  # one batch of RD_IMAGES, one z per image, drawn as the view draws it
        assert p.rate == pytest.approx(float(t["kl"]), rel=1e-5)
        assert p.distortion == pytest.approx(float(t["recon"]), rel=1e-5)
        r, d, per_dim = rate.measure(e.model, x)
        assert (p.rate, p.distortion) == (r, d) and np.allclose(per_dim, p.kl_per_dim)
        assert per_dim.sum() == pytest.approx(p.rate, rel=1e-4)


def test_the_view_draws_the_measured_numbers(family, images):
    points = [rate.point(e, images) for e in family]
    fig = figures.plane_figure(points, family[0].name)
    dots = next(t for t in fig.data if t.customdata is not None)
    assert list(dots.customdata) == [e.name for e in family]
    assert np.allclose(dots.x, [p.rate for p in points]) and np.allclose(dots.y, [p.distortion for p in points])
    assert dots.marker.color[0] == figures.PICKED and set(dots.marker.color[1:]) == {figures.OTHER}


def test_active_units_fall_and_the_rate_falls_as_beta_grows(family, images):
    points = [rate.point(e, images) for e in family]
    active = [p.active for p in points]
    rates = [p.rate for p in points]
    assert all(a >= b for a, b in zip(active, active[1:])), active
    assert active[0] > active[-1]
    assert all(a > b for a, b in zip(rates, rates[1:])), rates
    dist = [p.distortion for p in points]
    assert dist[0] < dist[-1]


def test_traversal_rows_are_the_dims_with_the_most_kl(family, images):
    e = family[0]
    p = rate.point(e, images)
    pic, dims = rate.traversal(e, p, dims=3, steps=5)
    assert dims == [int(d) for d in np.argsort(-p.kl_per_dim, kind="stable")[:3]]
    assert pic.ndim == 2 and pic.shape[0] < pic.shape[1]  # 3 rows of 5


def test_no_family_without_two_betas(registry):
    entries = registry.entries("mnist", latent_code=True)
    one = [e for e in entries if not (e.is_vae and e.beta != 1.0)]
    assert rate.beta_family(one) == []

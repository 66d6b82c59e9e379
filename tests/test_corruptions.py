import math

import pytest
import torch

from vae_demo.corruptions import KINDS, corrupt, describe, parse_spec

SHAPES = [(1, 28, 28), (3, 32, 32)]


def images(n, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=g)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("spec", ["gaussian:0.5", "erasure:0.5", "blur:2", "block:10",
                                  "saltpepper:0.2", "lowres:2", "lowres:3", "mix", "none",
                                  "erasure:0.9,block:16"])
def test_shape_range_and_reproducible(shape, spec):
    x = images(16, shape)
    y1, m1 = corrupt(x, spec, seed=7)
    y2, m2 = corrupt(x, spec, seed=7)
    assert y1.shape == x.shape and y1.dtype == x.dtype
    assert float(y1.min()) >= 0.0 and float(y1.max()) <= 1.0
    assert torch.equal(y1, y2)  # same seed, same output
    if m1 is not None:
        assert m1.shape == (16, 1, *shape[1:]) and torch.equal(m1, m2)
    if spec != "none":
        assert not torch.equal(y1, x)
    if spec not in ("none", "blur:2", "lowres:2", "lowres:3"):  # random corruptions depend on the seed
        assert not torch.equal(y1, corrupt(x, spec, seed=8)[0])


def test_erasure_fraction_and_mask():
    x = images(64, (3, 32, 32)) * 0.9 + 0.05  # no pixel is 0 before erasure
    for p in (0.1, 0.5, 0.9):
        y, m = corrupt(x, f"erasure:{p}", seed=1)
        assert abs(float(m.mean()) - p) < 0.01
        erased = m.expand_as(y).bool()
        assert torch.all(y[erased] == 0) and torch.all(y[~erased] == x[~erased])


def test_block_area_is_s_squared_and_inside():
    x = images(50, (1, 28, 28)) + 0.01
    for s in (1, 10, 16, 28):
        y, m = corrupt(x.clamp(max=1), f"block:{s}", seed=s)
        assert torch.all(m.sum(dim=(1, 2, 3)) == s * s)
        assert torch.all(y[m.bool()] == 0)
        rows = m[:, 0].amax(dim=2)  # (N, H): which rows hold the square
        assert torch.all(rows.sum(1) == s)
    # positions vary uniformly: the corner takes many values
    _, m = corrupt(x, "block:10", seed=0)
    tops = m[:, 0].amax(dim=2).argmax(dim=1)
    assert len(tops.unique()) > 8


def test_blur_keeps_mean_and_smooths():
    x = images(8, (3, 32, 32))
    for sigma in (1, 2, 4):
        y, mask = corrupt(x, f"blur:{sigma}")
        assert mask is None
        assert torch.allclose(y.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=0.01)
        assert y.std() < x.std() * 0.6
    assert torch.equal(corrupt(x, "blur:0")[0], x)


def test_gaussian_noise_statistics():
    x = torch.full((32, 1, 28, 28), 0.5)
    y, _ = corrupt(x, "gaussian:0.1", seed=3)
    d = y - x
    assert abs(float(d.mean())) < 0.005 and abs(float(d.std()) - 0.1) < 0.005


def test_saltpepper_fraction_and_values():
    x = torch.full((32, 3, 32, 32), 0.5)
    y, m = corrupt(x, "saltpepper:0.3", seed=3)
    assert abs(float(m.mean()) - 0.3) < 0.02
    hit = y[m.expand_as(y).bool()]
    assert set(hit.unique().tolist()) == {0.0, 1.0}
    assert abs(float((hit == 1).float().mean()) - 0.5) < 0.05


def test_lowres_is_blockwise_average():
    x = images(4, (1, 28, 28))
    y, _ = corrupt(x, "lowres:2")
    blocks = y.unfold(2, 2, 2).unfold(3, 2, 2)  # (N, C, 14, 14, 2, 2)
    assert torch.allclose(blocks.amax((-1, -2)), blocks.amin((-1, -2)))
    assert torch.allclose(blocks[..., 0, 0], torch.nn.functional.avg_pool2d(x, 2), atol=1e-6)


def test_mix_uses_many_kinds():
    x = images(200, (1, 28, 28)) * 0.8 + 0.1
    y, m = corrupt(x, "mix", seed=0)
    changed = (y != x).flatten(1).any(1)
    assert 0.85 < float(changed.float().mean()) < 1.0  # a few images left clean on purpose
    assert float(m.flatten(1).any(1).float().mean()) > 0.3  # erasure/block/saltpepper masks


def test_list_spec_gives_each_image_one_of_its_entries():
    c = parse_spec(" Erasure:0.9, block:16.2,erasure:0.9 ")
    assert c.kind == "oneof" and str(c) == "erasure:0.9,block:16"  # normalised, duplicates dropped
    assert parse_spec(str(c)) == c
    assert describe(c) == "one of: pixel erasure p=0.9, block mask 16px"
    assert parse_spec("blur:2,blur:2") == parse_spec("blur:2")  # a one-entry list is that spec
    x = images(200, (1, 28, 28)) * 0.8 + 0.1  # no pixel is 0, so every erased pixel shows
    y, m = corrupt(x, c, seed=3)
    hidden = m.flatten(1).mean(1)
    is_block = (hidden - 256 / 784).abs() < 1e-6  # a 16×16 square inside 28×28
    is_erasure = (hidden - 0.9).abs() < 0.06
    assert bool((is_block | is_erasure).all())
    assert 60 < int(is_block.sum()) < 140  # about half each
    assert torch.equal(y, x * (1 - m))  # both kinds zero exactly the masked pixels


def test_batch_of_severities_via_seed_generator():
    g = torch.Generator().manual_seed(0)
    x = images(4, (1, 28, 28))
    a, _ = corrupt(x, "gaussian:0.3", g)
    b, _ = corrupt(x, "gaussian:0.3", g)  # the generator moves on
    assert not torch.equal(a, b)


@pytest.mark.parametrize("bad,msg", [
    ("foo:1", "unknown corruption"), ("gaussian", "needs a severity"), ("gaussian:abc", "not a number"),
    ("gaussian:-1", "must be in"), ("erasure:1.5", "must be in"), ("blur:nan", "must be in"),
    ("block:inf", "must be in"), ("mix,blur:2", "kind:severity entries only"),
    ("blur:2,", "empty entry"), ("blur:2,foo:1", "unknown corruption"),
])
def test_spec_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        parse_spec(bad)


def test_spec_round_trip_and_labels():
    for kind in KINDS:
        c = parse_spec(f"{kind}:{'0.5' if kind in ('erasure', 'saltpepper') else '2'}")
        assert parse_spec(str(c)) == c
        assert describe(c)
    assert str(parse_spec(" Gaussian:0.50 ")) == "gaussian:0.5"
    assert parse_spec("block:9.6").severity == 10
    assert math.isclose(parse_spec("erasure:0.9").severity, 0.9)
    with pytest.raises(ValueError):
        corrupt(torch.rand(28, 28), "blur:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_same_result_on_gpu():
    x = images(8, (3, 32, 32))
    for spec in ("gaussian:0.3", "erasure:0.5", "block:10", "mix"):
        assert torch.allclose(corrupt(x, spec, 5)[0], corrupt(x.cuda(), spec, 5)[0].cpu(), atol=1e-5)


# --- blur as other libraries implement it ---------------------------------------------------------------

@pytest.mark.parametrize("sigma", [1.3, 2.0, 4.0])
def test_blur_variants_are_the_libraries_own_blur(sigma):
    """blur:σ:scipy / opencv / skimage equal SciPy's, OpenCV's and scikit-image's Gaussian blur (their kernel's
    truncation and their border), measured against the libraries themselves."""
    import cv2
    import numpy as np
    import skimage.filters
    from scipy import ndimage

    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    a = x.numpy().astype(np.float64)
    refs = {
        "scipy": ndimage.gaussian_filter(a, (0, 0, sigma, sigma), mode="reflect", truncate=4.0),
        "opencv": np.stack([cv2.GaussianBlur(im[0].astype(np.float32), (0, 0), sigma) for im in x.numpy()])[:, None],
        "skimage": np.stack([skimage.filters.gaussian(im[0], sigma=sigma) for im in a])[:, None],
    }
    ours, _ = corrupt(x, f"blur:{sigma:g}", 0)
    for variant, ref in refs.items():
        y, mask = corrupt(x, f"blur:{sigma:g}:{variant}", 0)
        assert mask is None and float(np.abs(y.numpy() - ref).max()) < 1e-5, variant
        assert float((y - ours).abs().max()) > 1e-4  # another kernel or border than this project's


def test_the_blur_family_draws_a_radius_and_border_per_image():
    from vae_demo.corruptions import BLUR_VARIANTS

    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    y1, _ = corrupt(x, "blur:2:family", 5)
    y2, _ = corrupt(x, "blur:2:family", 5)
    assert torch.equal(y1, y2)  # a seed gives the same draws
    named = {v: corrupt(x, f"blur:2:{v}" if v else "blur:2", 5)[0] for v in BLUR_VARIANTS}
    closest = torch.stack([(y1 - y).flatten(1).abs().max(1).values for y in named.values()]).min(0).values
    assert float(closest.max()) < 0.05  # each image blurred by some library-like operator ...
    assert len({tuple(v.tolist()) for v in (y1 - named[""]).flatten(1).abs().max(1).values.round(decimals=4)
                .unsqueeze(1)}) > 5  # ... not all by the same one


def test_only_blur_takes_a_variant():
    assert str(parse_spec("blur:2:scipy")) == "blur:2:scipy" and parse_spec("blur:2:scipy").variant == "scipy"
    assert str(parse_spec("blur:2,blur:2:family")) == "blur:2,blur:2:family"
    with pytest.raises(ValueError, match="only blur takes a variant"):
        parse_spec("gaussian:0.3:scipy")
    with pytest.raises(ValueError, match="only blur takes a variant"):
        parse_spec("blur:2:matlab")

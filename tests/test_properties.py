"""Property tests: corruptions and metrics over random shapes, dtypes and values."""

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vae_demo.corruptions import KINDS, SEVERITY, corrupt, parse_spec
from vae_demo.metrics import psnr, ssim_per_image

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

shapes = st.tuples(st.integers(1, 4), st.sampled_from([1, 3]), st.integers(2, 40), st.integers(2, 40))
dtypes = st.sampled_from([torch.float32, torch.float64, torch.bfloat16])


@st.composite
def specs(draw):
    kind = draw(st.sampled_from(KINDS))
    _, lo, hi = SEVERITY[kind]
    sev = draw(st.floats(lo, hi, allow_nan=False))
    return f"{kind}:{sev}"


@SETTINGS
@given(shape=shapes, spec=specs(), seed=st.integers(0, 2**31 - 1), dtype=dtypes)
def test_corruption_keeps_shape_dtype_range_and_seed(shape, spec, seed, dtype):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)
    y, mask = corrupt(x, spec, seed)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.isfinite(y.float()).all()
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    if mask is not None:
        assert mask.shape == (shape[0], 1, shape[2], shape[3])
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
    y2, _ = corrupt(x, spec, seed)
    assert torch.equal(y, y2)


@SETTINGS
@given(shape=shapes, seed=st.integers(0, 1000))
def test_mix_keeps_shape_and_range(shape, seed):
    x = torch.rand(shape)
    y, mask = corrupt(x, "mix", seed)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert mask.shape == (shape[0], 1, shape[2], shape[3])


@SETTINGS
@given(text=st.text(max_size=30))
def test_parse_spec_never_crashes_unexpectedly(text):
    try:
        c = parse_spec(text)
    except ValueError as err:
        assert str(err)  # a message, not an empty error
    else:
        assert c.kind in KINDS + ("none", "mix")
        if c.kind in KINDS:
            assert math.isfinite(c.severity)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.integers(11, 36), st.integers(11, 36)),
       seed=st.integers(0, 1000), noise=st.floats(0.0, 0.5))
def test_metric_properties(shape, seed, noise):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g)
    y = (x + noise * torch.randn(shape, generator=g)).clamp(0, 1)
    s = ssim_per_image(x, y)
    assert s.shape == (shape[0],) and torch.all(s <= 1 + 1e-5) and torch.all(s >= -1 - 1e-5)
    assert torch.allclose(ssim_per_image(x, x), torch.ones(shape[0]), atol=1e-5)
    assert torch.allclose(s, ssim_per_image(y, x), atol=1e-5)  # symmetric
    p = psnr(x, y)
    assert p == psnr(y, x) and p > 0
    assert psnr(x, x) == 100.0  # identical images: capped, never infinite

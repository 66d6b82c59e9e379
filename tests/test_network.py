"""The network's shape: the layer table of every committed checkpoint, and one transposed-convolution pixel
written out as a sum, checked against PyTorch's conv_transpose2d."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.helpers.tabs import tab_handler
from vae_demo.app.tabs.inside import network as view
from vae_demo.checkpoints import load_checkpoint
from vae_demo.services import network
from vae_demo.services.errors import UserInputError
from vae_demo.services.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted(p.stem for p in (ROOT / "checkpoints").glob("*.json"))


def test_there_are_committed_checkpoints_to_check():
    assert len(COMMITTED) >= 10


@pytest.mark.parametrize("name", COMMITTED)
def test_the_layer_table_counts_every_parameter_of_every_committed_checkpoint(name):
    model = load_checkpoint(name, ROOT / "checkpoints").model.eval()
    net = network.layers(model)
    assert net.params == sum(p.numel() for p in model.parameters())
    assert sum(row[4] for row in network.table(net)) == net.params
    assert net.input_shape == model.with_mask(torch.zeros(1, *model.image_shape)).shape[1:]
    assert net.output_shape == model.image_shape
    hooked = [layer for layer in net.layers if layer.part in ("encoder", "decoder")]
    if hooked:  # the layers follow the image: encoder first, and the decoder's last layer makes the output
        parts = [layer.part for layer in hooked]
        assert parts == sorted(parts, key=("encoder", "decoder").index)
        assert math.prod(hooked[-1].shape) == math.prod(model.image_shape)  # an MLP reshapes 784 after
    if model.has_latent_code and not model.discrete:
        assert net.code_shape == (model.code_length,)  # z, and a conditional model's class after it
    assert network.parameter_bytes(model) == sum(t.numel() * t.element_size()
                                                 for t in [*model.parameters(), *model.buffers()])


def test_a_dense_layer_and_a_conv_are_described_by_their_sizes():
    assert network.describe(nn.Linear(784, 400)) == "Linear 784→400"
    assert network.describe(nn.ConvTranspose2d(64, 32, 3, stride=2)) == "ConvTranspose2d 64→32, 3×3, stride 2"
    assert network.describe(nn.Conv2d(1, 8, 3)) == "Conv2d 1→8, 3×3"


LAYERS = [  # (C_in, C_out, kernel, stride, padding, output_padding, dilation, H_in)
    (3, 2, 3, 2, 1, 1, 1, 5),  # the conv decoders' layer: 7×7 → 14×14 when H_in = 7
    (2, 3, 4, 2, 1, 0, 1, 4),  # the VQ-VAE's
    (4, 2, 2, 2, 0, 0, 1, 3),  # the U-Net's
    (2, 2, 3, 1, 0, 0, 1, 4),  # stride 1: a plain "full" convolution
    (2, 1, 3, 3, 2, 2, 2, 4),  # stride 3, dilation 2
]


@pytest.mark.parametrize("spec", LAYERS)
def test_every_pixel_written_out_as_a_sum_equals_conv_transpose2d(spec):
    c_in, c_out, k, s, p, op, d, h = spec
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(c_in, c_out, k, stride=s, padding=p, output_padding=op, dilation=d)
    x = torch.randn(c_in, h, h + 1)
    w, b = layer.weight.detach().double(), layer.bias.detach().double()
    ref = F.conv_transpose2d(x[None].double(), w, b, s, p, op, 1, d)[0]  # in float64, as the sum is
    for o in range(c_out):
        for i in range(ref.shape[1]):
            for j in range(ref.shape[2]):
                px = network.transposed_pixel(layer, x, o, i, j)
                assert px.value == pytest.approx(float(ref[o, i, j]), abs=1e-9)
                assert px.value == pytest.approx(px.bias + sum(px.terms), abs=1e-12)


def test_stride_two_gives_neighbouring_pixels_different_numbers_of_terms():
    """A 3×3 kernel, stride 2, padding 1 (the conv decoders): inside the image, 1, 2 or 4 terms by parity."""
    layer = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)
    counts = np.array([[len(network.transposed_taps(layer, (7, 7), i, j)) for j in range(14)] for i in range(14)])
    assert counts[2:12, 2:12][::2, ::2].tolist() == [[1] * 5] * 5  # even row, even column
    assert set(counts[1:13:2, 1:13:2].ravel()) == {4}  # odd, odd
    assert set(counts[2:12:2, 1:13:2].ravel()) == {2} and set(counts[1:13:2, 2:12:2].ravel()) == {2}
    taps = network.transposed_taps(layer, (7, 7), 5, 5)  # (5 + 1 − k) / 2 whole for k = 0 and 2
    assert {(t.ki, t.kj, t.y, t.x) for t in taps} == {(0, 0, 3, 3), (0, 2, 3, 2), (2, 0, 2, 3), (2, 2, 2, 2)}


@pytest.fixture(scope="module")
def committed():
    from vae_demo.services.testdata import TestImages

    return ModelRegistry(ROOT / "checkpoints"), TestImages(Path("/nonexistent"))


def test_the_pixel_view_on_a_committed_decoder_matches_the_layers_own_output(committed):
    registry, images = committed
    e = registry.get("mnist_conv_vae_z16", "mnist")
    x = images.get("mnist").floats(slice(0, 1))
    for layer_name, layer in network.transposed_layers(e.model):
        inp, out = network.layer_input(e.model, layer_name, x)
        for o, i, j in ((0, 0, 0), (out.shape[0] - 1, out.shape[1] // 2, 5), (0, out.shape[1] - 1, out.shape[2] - 1)):
            v = view.pixel_view(e, x, layer_name, o, i, j)
            assert v.value == pytest.approx(v.torch_value, abs=1e-5)
            assert v.torch_value == pytest.approx(float(out[o, i, j]), abs=1e-7)
            assert f"{v.value:+.4f}" in v.text and f"{inp.shape[-2]}×{inp.shape[-1]}" in v.text
            cell = view.PICTURE // max(inp.shape[-2:])  # the picture fills exactly the cells that reach the pixel
            filled = np.all(v.taps[::cell, ::cell][: inp.shape[-2], : inp.shape[-1]] == (230, 120, 30), axis=-1) | \
                np.all(v.taps[cell // 2::cell, cell // 2::cell] == (230, 120, 30), axis=-1)
            taps = network.transposed_taps(layer, tuple(inp.shape[-2:]), i, j)
            assert {(int(a), int(b)) for a, b in zip(*np.nonzero(filled))} == {(t.y, t.x) for t in taps}
    with pytest.raises(UserInputError, match="no transposed convolution called"):
        view.pixel_view(e, x, "encoder.0", 0, 0, 0)


def test_the_view_shows_a_checkpoints_shape_and_hides_the_convolution_where_there_is_none(committed):
    from vae_demo.app.common import Context
    from vae_demo.services.jobs import JobManager

    registry, images = committed
    ctx = Context(registry, images, JobManager(registry, images))
    show = tab_handler(ctx, view, "show")
    summary, fig, rows, conv, layer = show("mnist", "mnist_conv_vae_z16")
    rows = rows.values.tolist()  # a table with its headers (in the visitor's language)
    model = registry.get("mnist_conv_vae_z16", "mnist").model
    assert f"**{sum(p.numel() for p in model.parameters()):,} parameters**" in summary
    assert conv["visible"] is True and layer["value"] == "decoder.0"
    assert [r[1] for r in rows][-1] == "decoder.2" and rows[-1][3] == "1 × 28 × 28"
    sizes = {t.name: list(t.y) for t in fig.data}  # the hourglass: image, encoder, code, decoder
    assert sizes["image"] == [784] and sizes["code"] == [16] and min(sizes["encoder"]) > 16
    _, _, _, conv, layer = show("mnist", "mnist_mlp_vae_z2")
    assert conv["visible"] is False and layer["value"] is None
    summary, fig, rows, conv, _ = show("mnist", "mnist_pca_z64")
    assert "**0 parameters**" in summary and "fixed values (computed, not trained)" in summary and rows.empty
    assert conv["visible"] is False
    channel, row, col, taps, output, text = tab_handler(ctx, view, "on_layer")("mnist", "mnist_conv_vae_z16", "decoder.2")
    assert channel["interactive"] is False and (row["maximum"], col["maximum"]) == (27, 27) and (row["value"], col["value"]) == (14, 14)
    again = tab_handler(ctx, view, "on_pixel")("mnist", "mnist_conv_vae_z16", "decoder.2", 0, 14, 14)
    assert again[2] == text and np.array_equal(again[0], taps)  # the same pixel, by either path, the same view
    moved = tab_handler(ctx, view, "on_pixel")("mnist", "mnist_conv_vae_z16", "decoder.2", 0, 15, 15)
    assert "**4 of the 9**" in moved[2] and "**1 of the 9**" in text
    assert math.prod(output.shape[:2]) == math.prod(moved[1].shape[:2])

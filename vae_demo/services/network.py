"""The network's shape, as plain functions: what a checkpoint's layers are and what a transposed convolution does.

- :func:`layers`: every layer an image goes through (encoder, then decoder), with its output shape and its
  parameter count, found by running one image (forward hooks on the leaf modules); parameters no layer
  used on the way are listed too, so the table's total is always the model's ``sum(p.numel())``.
- :func:`transposed_taps`, :func:`transposed_pixel`: one output pixel of a ``ConvTranspose2d``, written out
  as the sum the layer computes: which input cells, through which kernel weights, made it. A stride-2
  transposed convolution is how a decoder grows 7×7 to 14×14 to 28×28.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vae_demo.language import _
from vae_demo.services.errors import UserInputError


@dataclass(frozen=True)
class Layer:
    part: str  # "encoder", "decoder" or "unused" (parameters no forward pass touched)
    name: str  # the module's path in the model, e.g. "decoder.3"
    kind: str  # what it is, e.g. "ConvTranspose2d 32→16, 3×3, stride 2"
    shape: tuple[int, ...]  # its output for one image (no batch dim); () for unused parameters
    params: int


@dataclass(frozen=True)
class Network:
    layers: list[Layer]
    input_shape: tuple[int, ...]
    code_shape: tuple[int, ...]  # what the encoder hands the decoder, for one image
    output_shape: tuple[int, ...]

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def part_params(self, part: str) -> int:
        return sum(layer.params for layer in self.layers if layer.part == part)


def describe(module: nn.Module) -> str:
    """A layer in a few words: its class and, for convolutions and dense layers, its sizes."""
    name = type(module).__name__
    if isinstance(module, nn.modules.conv._ConvNd):
        k = "×".join(str(v) for v in module.kernel_size)
        s = module.stride[0]
        return f"{name} {module.in_channels}→{module.out_channels}, {k}" + (f", stride {s}" if s != 1 else "")
    if isinstance(module, nn.Linear):
        return f"{name} {module.in_features}→{module.out_features}"
    return name


def _first_tensor(out) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


@torch.no_grad()
def layers(model, x: torch.Tensor | None = None) -> Network:
    """The layers one image goes through in ``model`` (an Autoencoder), in order, with their output shapes
    and parameter counts. ``x``: one image (1, C, H, W); zeros when None (shapes do not depend on it)."""
    x = torch.zeros((1, *model.image_shape)) if x is None else x[:1]
    x = model.with_mask(x.to(model.device))
    rows: list[Layer] = []
    counted: set[int] = set()  # parameters already in a row (a layer called twice counts once)
    part = {"now": "encoder"}
    names = {m: n for n, m in model.named_modules()}

    def hook(module, _inputs, out):
        t = _first_tensor(out)
        own = [p for p in module.parameters(recurse=False) if id(p) not in counted]
        counted.update(id(p) for p in own)
        rows.append(Layer(part["now"], names[module], describe(module),
                          tuple(t.shape[1:]) if t is not None else (), sum(p.numel() for p in own)))

    handles = [m.register_forward_hook(hook) for m in model.modules() if not any(True for _child in m.children())]
    try:
        code = model.embed(x)  # what the decoder gets: z (a VAE's posterior mean), feature maps, a code grid
        part["now"] = "decoder"
        out = model.decode_logits(code)
    finally:
        for h in handles:
            h.remove()
    for name, p in model.named_parameters():  # used outside a layer's forward (a codebook, PCA's basis)
        if id(p) not in counted:
            counted.add(id(p))
            rows.append(Layer("unused", name, "parameter used directly", tuple(p.shape), p.numel()))
    code_t = _first_tensor(code)
    return Network(rows, tuple(x.shape[1:]), tuple(code_t.shape[1:]) if code_t is not None else (),
                   tuple(_first_tensor(out).shape[1:]))


def buffer_values(model) -> int:
    """Numbers the model holds that gradient descent does not train (PCA's basis and mean, running statistics)."""
    return sum(b.numel() for b in model.buffers())


def parameter_bytes(model) -> int:
    """Bytes of the model's parameters and buffers as they are held in memory."""
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def size_text(n: int) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def table(net: Network) -> list[list]:
    """The layer table's rows: part, layer, what it is, output shape, parameters."""
    return [[layer.part, layer.name, layer.kind, " × ".join(str(s) for s in layer.shape) or "—", layer.params]
            for layer in net.layers]


# --- a transposed convolution, one output pixel at a time -------------------------------------------------

def transposed_layers(model) -> list[tuple[str, nn.ConvTranspose2d]]:
    """The decoder's transposed convolutions, by their path in the model."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ConvTranspose2d)]


@dataclass(frozen=True)
class Tap:
    ki: int  # the kernel row and column this input cell is multiplied by
    kj: int
    y: int  # the input cell
    x: int


def transposed_taps(layer: nn.ConvTranspose2d, in_hw: tuple[int, int], i: int, j: int) -> list[Tap]:
    """Which input cells (y, x), through which kernel weights (ki, kj), reach output pixel (i, j).

    A transposed convolution spreads each input cell (y, x) over the output: it adds ``x[c, y, x] ·
    W[c, o, ki, kj]`` to the output pixel (y·s − p + ki·d, x·s − p + kj·d) for every kernel position
    (stride s, padding p, dilation d). So output (i, j) gets one term per kernel position where
    (i + p − ki·d) / s is a whole number inside the input, and the same for j."""
    s, p, d = layer.stride, layer.padding, layer.dilation
    kh, kw = layer.kernel_size
    taps = []
    for ki in range(kh):
        ny = i + p[0] - ki * d[0]
        if ny % s[0] or not 0 <= ny // s[0] < in_hw[0]:
            continue
        for kj in range(kw):
            nx = j + p[1] - kj * d[1]
            if nx % s[1] or not 0 <= nx // s[1] < in_hw[1]:
                continue
            taps.append(Tap(ki, kj, ny // s[0], nx // s[1]))
    return taps


@dataclass(frozen=True)
class Pixel:
    value: float  # the output pixel: bias + Σ over taps of that tap's term
    bias: float
    taps: list[Tap]
    terms: list[float]  # per tap: Σ over input channels c of x[c, y, x] · W[c, o, ki, kj]


def transposed_pixel(layer: nn.ConvTranspose2d, x: torch.Tensor, o: int, i: int, j: int) -> Pixel:
    """Output pixel (i, j) of channel ``o`` of ``layer`` applied to ``x`` (C_in, H, W), as the sum of its taps."""
    if layer.groups != 1:
        raise UserInputError(_("grouped transposed convolutions are not shown"))
    x = x.detach().double()
    w = layer.weight.detach().double()  # (C_in, C_out, kh, kw)
    taps = transposed_taps(layer, tuple(x.shape[-2:]), i, j)
    terms = [float((x[:, t.y, t.x] * w[:, o, t.ki, t.kj]).sum()) for t in taps]
    bias = float(layer.bias[o].detach()) if layer.bias is not None else 0.0
    return Pixel(bias + sum(terms), bias, taps, terms)


@torch.no_grad()
def layer_input(model, name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, output) of the layer called ``name`` when ``model`` reconstructs ``x`` (1, C, H, W)."""
    module = dict(model.named_modules())[name]
    seen = {}

    def hook(_m, inputs, out):
        seen.setdefault("io", (inputs[0][0].detach(), out[0].detach()))

    h = module.register_forward_hook(hook)
    try:
        model.decode_logits(model.embed(model.with_mask(x[:1].to(model.device))))
    finally:
        h.remove()
    return seen["io"]


def tap_picture(h: int, w: int, taps: list[Tap], size: int = 280) -> np.ndarray:
    """An (size, size, 3) uint8 grid of the input's h×w cells, the cells that reach the picked pixel filled."""
    cell = max(1, size // max(h, w))
    img = np.full((h * cell, w * cell, 3), 245, np.uint8)
    for t in taps:
        img[t.y * cell:(t.y + 1) * cell, t.x * cell:(t.x + 1) * cell] = (230, 120, 30)
    img[::cell, :] = 180
    img[:, ::cell] = 180
    return img


def pixel_picture(out: np.ndarray, i: int, j: int, size: int = 280) -> np.ndarray:
    """The layer's output channel (H, W) as grey, with pixel (i, j) framed in orange."""
    h, w = out.shape
    lo, hi = float(out.min()), float(out.max())
    grey = ((out - lo) / (hi - lo + 1e-12) * 255).astype(np.uint8)
    cell = max(1, size // max(h, w))
    img = np.repeat(np.repeat(grey, cell, 0), cell, 1)[..., None].repeat(3, axis=2)
    y0, x0, t = i * cell, j * cell, max(1, cell // 5)
    for sl in ((slice(y0, y0 + t), slice(x0, x0 + cell)), (slice(y0 + cell - t, y0 + cell), slice(x0, x0 + cell)),
               (slice(y0, y0 + cell), slice(x0, x0 + t)), (slice(y0, y0 + cell), slice(x0 + cell - t, x0 + cell))):
        img[sl] = (230, 120, 30)
    return img

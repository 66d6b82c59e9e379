"""Inside a VAE — the network's shape: any checkpoint's layers (output shapes, parameters), the hourglass they
make, and one pixel of a transposed convolution written out as the sum the layer computes."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from vae_demo.app.common import LATEX, Context, safe, slider_moves, test_image
from vae_demo.app.figures.network import shape_figure
from vae_demo.app.registry import Tab
from vae_demo.language import N_, _
from vae_demo.services import network
from vae_demo.services.errors import UserInputError

TEXT = r"""**The network's shape.** An autoencoder is an hourglass: the encoder turns the image into feature maps,
then squeezes them down to the code, the narrowest point; the decoder grows that back into an image. Each bar is a layer with weights, as tall as
the numbers it hands on (log scale); hover a bar for its shape, open "Every layer" for the whole table."""

CONV_TEXT = r"""**How a decoder grows an image: a transposed convolution.** Each input cell spreads over the output
through the kernel; with stride 2 the output is twice as wide. Pick an output pixel: the orange cells reach it."""

COLUMNS = [N_("part"), N_("layer"), N_("what"), N_("output shape"), N_("parameters")]  # shown through _()
PICTURE = 196  # a 28×28 output at 7×, a 7×7 input at 28×


def layer_table(net: network.Network):
    """The layer table, its headers and parts in the visitor's language."""
    import pandas as pd

    return pd.DataFrame([[_(r[0]), *r[1:]] for r in network.table(net)], columns=[_(c) for c in COLUMNS])


def network_summary(entry, net: network.Network) -> str:
    model = entry.model
    shape = lambda t: " × ".join(map(str, t))  # noqa: E731
    parts = [_("encoder {n:,}", n=net.part_params("encoder")), _("decoder {n:,}", n=net.part_params("decoder"))]
    if net.part_params("unused"):
        parts.append(_("used directly {n:,}", n=net.part_params("unused")))
    fixed = network.buffer_values(model)
    dtype = str(next(iter([*model.parameters(), *model.buffers()])).dtype).replace("torch.", "")
    return (_("`{name}`: **{n:,} parameters** ({parts})", name=entry.name, n=net.params, parts=", ".join(parts))
            + (_(" and {n:,} fixed values (computed, not trained)", n=fixed) if fixed else "")
            + _(", {size} in memory as {dtype}. Image {image} → code {code} → output {output}.",
                size=network.size_text(network.parameter_bytes(model)), dtype=dtype, image=shape(net.input_shape),
                code=shape(net.code_shape), output=shape(net.output_shape)))


@dataclass(frozen=True)
class PixelView:
    taps: np.ndarray  # the input grid with the cells that reach the pixel filled
    output: np.ndarray  # the output channel with the pixel framed
    text: str
    value: float  # the sum, as the view computes it
    torch_value: float  # the same pixel of the layer's own output (PyTorch's conv_transpose2d)


def pixel_view(entry, x, layer_name: str, o: int, i: int, j: int) -> PixelView:
    """Output pixel (i, j) of channel ``o`` of the transposed convolution ``layer_name``, when ``entry``'s
    model reconstructs ``x``: the input cells that reach it, and the sum written out."""
    layers = dict(network.transposed_layers(entry.model))
    if layer_name not in layers:
        raise UserInputError(_("{name} has no transposed convolution called {layer}", name=entry.name,
                               layer=repr(layer_name)))
    layer = layers[layer_name]
    inp, out = network.layer_input(entry.model, layer_name, x)
    o = int(np.clip(o, 0, out.shape[0] - 1))
    i, j = int(np.clip(i, 0, out.shape[1] - 1)), int(np.clip(j, 0, out.shape[2] - 1))
    px = network.transposed_pixel(layer, inp, o, i, j)
    kh, kw = layer.kernel_size
    taps = ", ".join(f"W[·, {o}, {t.ki}, {t.kj}]·x[·, {t.y}, {t.x}] = {v:+.3f}" for t, v in zip(px.taps, px.terms))
    h_in, w_in = inp.shape[-2:]
    text = _("`{layer}` ({what}) turns {h_in}×{w_in} into {h}×{w}. Output pixel ({i}, {j}) of channel {o} = bias "
             "{bias:+.3f} + one term per kernel position that lands on it, each summed over the {c} input channels: "
             "**{n} of the {k}** — {taps} → **{value:+.4f}**. The layer's own output (PyTorch's conv_transpose2d): "
             "**{torch:+.4f}**.", layer=layer_name, what=network.describe(layer), h_in=h_in, w_in=w_in,
             h=out.shape[1], w=out.shape[2], i=i, j=j, o=o, bias=px.bias, c=inp.shape[0], n=len(px.taps), k=kh * kw,
             taps=taps, value=px.value, torch=float(out[o, i, j]))
    if layer.stride[0] > 1:
        text += _(" With stride > 1 neighbouring output pixels get different numbers of terms (move the pixel by "
                  "one): an uneven overlap that can leave a checkerboard pattern in a decoder's images.")
    return PixelView(network.tap_picture(h_in, w_in, px.taps, PICTURE),
                     network.pixel_picture(out[o].double().numpy(), i, j, PICTURE), text, px.value,
                     float(out[o, i, j]))


@dataclass
class NetworkUI:
    model: gr.Dropdown
    summary: gr.Markdown
    shape: gr.Plot
    table: gr.Dataframe
    conv: gr.Column
    layer: gr.Dropdown
    channel: gr.Slider
    row: gr.Slider
    col: gr.Slider
    taps: gr.Image
    output: gr.Image
    sum_text: gr.Markdown

    @property
    def pixel_outs(self) -> list:
        return [self.taps, self.output, self.sum_text]


def layout() -> NetworkUI:
    gr.Markdown(TEXT, latex_delimiters=LATEX, elem_id="network-explain")
    with gr.Row():
        with gr.Column(scale=5, min_width=420):
            model = gr.Dropdown(label="Checkpoint", choices=[], elem_id="network-model", allow_custom_value=True)
            summary = gr.Markdown("", elem_id="network-summary")
            shape = gr.Plot(label="the layers' output sizes", show_label=False, elem_id="network-shape",
                             elem_classes=["vd-main"])
            with gr.Accordion("Every layer", open=False, elem_id="network-layers"):
                table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, elem_id="network-table")
        with gr.Column(scale=6, min_width=480, elem_id="network-conv") as conv:
            gr.Markdown(CONV_TEXT, latex_delimiters=LATEX, elem_id="network-conv-explain")
            with gr.Row():
                with gr.Column(scale=1, min_width=170):
                    layer = gr.Dropdown(label="Layer", choices=[], elem_id="network-layer",
                                        allow_custom_value=True)
                    channel = gr.Slider(0, 1, value=0, step=1, label="channel", elem_id="network-channel")
                    row = gr.Slider(0, 13, value=0, step=1, label="row", elem_id="network-row")
                    col = gr.Slider(0, 13, value=0, step=1, label="column", elem_id="network-col")
                with gr.Column(scale=1, min_width=PICTURE):  # headings above the pictures, none over them
                    gr.Markdown("**its input**: the cells that reach the pixel", elem_id="network-taps-head")
                    taps = gr.Image(label="its input", show_label=False, type="numpy", interactive=False,
                                    height=PICTURE + 8, format="png", buttons=[], elem_id="network-taps")
                with gr.Column(scale=1, min_width=PICTURE):
                    gr.Markdown("**its output**: the picked pixel", elem_id="network-output-head")
                    output = gr.Image(label="its output", show_label=False, type="numpy", interactive=False,
                                      height=PICTURE + 8, format="png", buttons=[], elem_id="network-output")
            sum_text = gr.Markdown("", elem_id="network-sum")
    return NetworkUI(model, summary, shape, table, conv, layer, channel, row, col, taps, output, sum_text)


class NetworkHandlers:
    def __init__(self, ctx: Context, ui: NetworkUI):
        self.ctx, self.ui = ctx, ui

    @safe
    def relist(self, dataset, current):
        entries = self.ctx.registry.entries(dataset)
        names = [e.name for e in entries]
        first = sorted(entries, key=lambda e: (not e.has_latent_code, not e.is_vae, not e.is_plain_vae, e.yours,
                                               not network.transposed_layers(e.model), e.name))  # a conv VAE
        value = current if current in names else (first[0].name if first else None)
        return gr.update(choices=[(e.label, e.name) for e in entries], value=value,
                         info=None if names else f"no model for {dataset} yet: train one in the Train tab")

    @safe
    def show(self, dataset, name):
        ui = self.ui
        e = self.ctx.registry.get(name, dataset)
        net = network.layers(e.model)
        convs = [n for n, _layer in network.transposed_layers(e.model)]
        return {ui.summary: network_summary(e, net), ui.shape: shape_figure(net, f"{e.name}: encoder → code → decoder"),
                ui.table: layer_table(net), ui.conv: gr.update(visible=bool(convs)),
                ui.layer: gr.update(choices=convs, value=convs[0] if convs else None)}

    @safe
    def on_layer(self, dataset, name, layer_name):
        ui = self.ui
        e = self.ctx.registry.get(name, dataset)
        if not layer_name:
            return {ui.sum_text: _("This model has no transposed convolution: its decoder is made of other layers.")}
        _inp, out = network.layer_input(e.model, layer_name, test_image(self.ctx, dataset, 0))
        c, h, w = out.shape
        i, j = h // 2, w // 2
        v = pixel_view(e, test_image(self.ctx, dataset, 0), layer_name, 0, i, j)
        return {ui.channel: gr.update(maximum=max(c - 1, 1), value=0, interactive=c > 1),  # a slider needs 2 values
                ui.row: gr.update(maximum=h - 1, value=i), ui.col: gr.update(maximum=w - 1, value=j), ui.taps: v.taps, ui.output: v.output, ui.sum_text: v.text}

    @safe
    def on_pixel(self, dataset, name, layer_name, o, i, j):
        e = self.ctx.registry.get(name, dataset)
        if not layer_name:
            raise UserInputError(_("this model has no transposed convolution"))
        v = pixel_view(e, test_image(self.ctx, dataset, 0), layer_name, int(o), int(i), int(j))
        return {self.ui.taps: v.taps, self.ui.output: v.output, self.ui.sum_text: v.text}


def build(ctx: Context) -> None:
    ui = layout()
    h = NetworkHandlers(ctx, ui)
    quiet = {"show_progress": "hidden"}
    gr.on(ctx.model_triggers(), h.relist, [ctx.dataset, ui.model], ui.model, **quiet)
    pixel_reset = ([ctx.dataset, ui.model, ui.layer], [ui.channel, ui.row, ui.col, *ui.pixel_outs])
    ui.model.change(h.show, [ctx.dataset, ui.model], [ui.summary, ui.shape, ui.table, ui.conv, ui.layer],
                    **quiet).then(h.on_layer, *pixel_reset, **quiet)  # the layer's name may stay the same
    ui.layer.input(h.on_layer, *pixel_reset, **quiet)
    gr.on([*slider_moves(ui.channel), *slider_moves(ui.row), *slider_moves(ui.col)], h.on_pixel,
          [ctx.dataset, ui.model, ui.layer, ui.channel, ui.row, ui.col], ui.pixel_outs,
          trigger_mode="always_last", **quiet)  # a drag, a typed number, and each ↺
    ctx.load_events.append((h.relist, [ctx.dataset, ui.model], [ui.model]))


VIEW = Tab("inside-network", "The network's shape", build,
           config={"state": [["network-model", "dropdown"], ["network-layer", "dropdown"], ["network-channel", "slider"],
                             ["network-row", "slider"], ["network-col", "slider"]]})

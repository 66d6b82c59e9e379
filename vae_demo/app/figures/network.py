"""The network's shape as a picture: one bar per layer, as tall as the numbers it hands on (log scale)."""

from __future__ import annotations

import math

from vae_demo.language import _
from vae_demo.services.network import Layer, Network

PART_COLOURS = {"encoder": "#4c78a8", "decoder": "#f58518"}


def shape_figure(net: Network, title: str = ""):
    """Plotly: image → encoder → code → decoder, each layer with weights a bar as tall as the values in its output (log
    scale), its shape and parameters on hover. The hourglass, narrowest at the code, is the autoencoder's idea."""
    import plotly.graph_objects as go

    layers = [layer for layer in net.layers if layer.part in PART_COLOURS and layer.shape and layer.params]
    enc = [layer for layer in layers if layer.part == "encoder"]
    dec = [layer for layer in layers if layer.part == "decoder"]
    rows = [Layer("image", "input", "image", net.input_shape, 0), *enc, Layer("code", "code", "code", net.code_shape, 0),
            *(dec or [Layer("image", "output", "output", net.output_shape, 0)])]
    numbered = iter(range(1, len(rows) + 1))
    x = [f"{next(numbered)}. {layer.kind.split(' ')[0]}" if layer.part in PART_COLOURS else layer.kind for layer in rows]
    sizes = [math.prod(layer.shape) for layer in rows]
    fig = go.Figure()
    for part, colour in {"image": "#9d9d9d", **PART_COLOURS, "code": "#222222"}.items():
        idx = [k for k, layer in enumerate(rows) if layer.part == part]
        fig.add_trace(go.Bar(
            x=[x[k] for k in idx], y=[sizes[k] for k in idx], name=_(part), marker={"color": colour},
            customdata=[[" × ".join(map(str, rows[k].shape)), rows[k].params, rows[k].kind] for k in idx],
            hovertemplate=_("{kind}<br>output {shape} = {n} values<br>{params} parameters", kind="%{customdata[2]}",
                            shape="%{customdata[0]}", n="%{y:,}", params="%{customdata[1]:,}") + "<extra></extra>"))
    fig.update_layout(height=280, template="plotly_white", margin={"l": 60, "r": 20, "t": 40, "b": 80},
                      title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
                      font={"size": 13}, barmode="overlay", showlegend=True,
                      legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
                      yaxis={"type": "log", "title": _("values per image"), "dtick": 1},
                      xaxis={"tickangle": -45, "categoryorder": "array", "categoryarray": x})
    return fig

"""The Train tab's curves: each loss term, train and test, in one colour; the test PSNR on its own axis."""

from __future__ import annotations

from vae_demo.language import _


def loss_terms(history: list[dict]) -> tuple[list[str], list[str]]:
    """The loss terms the model returned (whatever it names them), split for two axes: ``loss`` and the
    terms of its size (a reconstruction), and the much smaller ones (a VAE's KL, a VQ-VAE's codebook and
    commitment terms), which would be a flat line beside them."""
    names: list[str] = []
    for h in history:
        for k in h:
            split, _sep, term = k.partition("_")
            if split in ("train", "test") and term not in ("psnr", "") and term not in names:
                names.append(term)

    def size(term):
        return max((abs(v) for h in history for k, v in h.items() if k.endswith("_" + term)
                    and isinstance(v, (int, float)) and v == v), default=0.0)

    scale = size("loss") or max((size(t) for t in names), default=0.0)
    big = [t for t in names if t == "loss" or size(t) >= 0.2 * scale]
    big.sort(key=lambda t: t != "loss")  # the loss first
    return big, [t for t in names if t not in big]


# one colour per loss term, train and test alike (test dashed): a class reads "the orange pair is the KL"
TERM_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


PSNR_COLOUR = "#444444"


def curves_figure(history: list[dict]):
    """Loss terms per epoch, train (solid) and test (dashed) in the term's own colour: the loss and the terms
    of its size on one axis, the much smaller terms on their own (a VAE's KL would otherwise be a flat line),
    PSNR on a third."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    big, small = loss_terms(history)
    panels = [big] + ([small] if small else [])
    titles = [_("{terms} (per image)", terms=_(" and ").join(t)) for t in panels] + [_("test PSNR (dB)")]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles)
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    terms = [t for keys in panels for t in keys]
    for col, keys in enumerate(panels, start=1):
        for key in keys:
            colour = TERM_COLOURS[terms.index(key) % len(TERM_COLOURS)]
            for split, dash in (("train", "solid"), ("test", "dash")):
                k = f"{split}_{key}"
                if any(k in h for h in history):
                    fig.add_trace(go.Scatter(x=epochs, y=[h.get(k) for h in history], name=f"{_(split)} {key}",
                                             legendgroup=key, mode="lines+markers",
                                             line={"dash": dash, "color": colour},
                                             marker={"color": colour, "symbol": "circle" if split == "train"
                                                     else "circle-open"}), row=1, col=col)
    if any("test_psnr" in h for h in history):
        fig.add_trace(go.Scatter(x=epochs, y=[h.get("test_psnr") for h in history], name=_("test PSNR"),
                                 legendgroup="psnr", mode="lines+markers", line={"dash": "dash", "color": PSNR_COLOUR},
                                 marker={"color": PSNR_COLOUR, "symbol": "circle-open"}), row=1, col=len(titles))
    # short enough to fit a 1280×720 screen under the Train button; each term's train and test entries
    # stacked in the legend, under the axes' titles; the titles clear of the plot's toolbar
    fig.update_layout(height=300, margin={"l": 40, "r": 10, "t": 56, "b": 10}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.3, "yanchor": "top"}, font={"size": 13})
    fig.update_annotations(font_size=14)
    fig.update_xaxes(title_text=_("epoch"), dtick=1)
    return fig

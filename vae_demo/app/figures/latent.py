"""Plots of the latent space: the latent map and a VQ-VAE's codebook (services compute, the app draws)."""

from __future__ import annotations

import numpy as np

from vae_demo.language import _
from vae_demo.services.codes import CodebookUse, codebook_points, codes_by_use
from vae_demo.services.latent import LatentMap
from vae_demo.services.registry import ModelEntry

# One colour per class, ten that stay apart (Tableau 10): plotly's default sequence gives classes 4 and 9
# two oranges a projector cannot tell apart.
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def map_figure(m: LatentMap, class_names, point: tuple[float, float] | None = None, title: str = ""):
    """Plotly scatter, one trace per class (hover shows the class), plus a crosshair at ``point``."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for c in np.unique(m.labels):
        sel = m.labels == c
        name = _(class_names[int(c)]) if 0 <= int(c) < len(class_names) else str(c)
        fig.add_trace(go.Scattergl(
            x=m.xy[sel, 0], y=m.xy[sel, 1], mode="markers", name=name,
            marker={"size": 4, "opacity": 0.7, "color": CLASS_COLORS[int(c) % len(CLASS_COLORS)]},
            hovertemplate=f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
        ))
    if point is not None:
        x, y = point
        fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=_("decoded point"),
                                 marker={"symbol": "cross-thin-open", "size": 26, "line": {"width": 3, "color": "black"}},
                                 hovertemplate=_("decoded point") + " (%{x:.2f}, %{y:.2f})<extra></extra>"))
        fig.add_hline(y=y, line_width=1, line_dash="dot", line_color="black")
        fig.add_vline(x=x, line_width=1, line_dash="dot", line_color="black")
    x0, x1, y0, y1 = m.extent
    axis = {"native": ("z[0]", "z[1]"), "pca": ("PC 1", "PC 2"), "tsne": ("t-SNE 1", "t-SNE 2")}[m.method]
    fig.update_layout(title=title or m.note, xaxis_title=axis[0], yaxis_title=axis[1], height=520,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40}, legend={"itemsizing": "constant"},
                      xaxis={"range": [x0, x1]}, yaxis={"range": [y0, y1]}, template="plotly_white")
    return fig


def codebook_figure(entry: ModelEntry, use: CodebookUse, selected: int | None = None):
    """Plotly: the codebook as a scatter (one dot per code, its area and colour by its use; hover tells the
    code and its share of the cells; ``selected`` ringed) beside every code's share, most used first (a
    long flat tail: the codebook is used evenly; a few tall bars and zeros: it collapsed)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    xy, note = codebook_points(entry)
    share = use.counts / max(use.counts.sum(), 1)
    size = 6 + 40 * np.sqrt(share / max(share.max(), 1e-12))
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.1,
                        subplot_titles=[_("the codebook: each dot a code vector"), _("each code's share of the cells")])
    fig.add_trace(go.Scatter(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name=_("codes"),
        marker={"size": size, "color": share, "colorscale": "Viridis", "showscale": False,
                "line": {"width": 0.5, "color": "#333"}},
        customdata=np.stack([np.arange(len(xy)), 100 * share], 1),
        hovertemplate=_("code {k}: {share} of cells", k="%{customdata[0]:.0f}", share="%{customdata[1]:.2f}%")
        + "<extra></extra>",
    ), row=1, col=1)
    if selected is not None and 0 <= selected < len(xy):
        fig.add_trace(go.Scatter(x=[xy[selected, 0]], y=[xy[selected, 1]], mode="markers", name=_("code {k}", k=selected),
                                 marker={"symbol": "circle-open", "size": 30, "line": {"width": 3, "color": "red"}}),
                      row=1, col=1)
    order = codes_by_use(use)
    fig.add_trace(go.Bar(x=list(range(1, len(order) + 1)), y=100 * share[order], name=_("share"),
                         marker={"color": "#4c78a8"}, customdata=order,
                         hovertemplate=_("code {k}: {share} of cells", k="%{customdata}", share="%{y:.2f}%")
                         + "<extra></extra>"), row=1, col=2)
    fig.update_xaxes(title_text=f"PC 1 ({note.split('(', 1)[1].rstrip(')')})", row=1, col=1)
    fig.update_yaxes(title_text="PC 2", row=1, col=1)
    fig.update_xaxes(title_text=_("codes, most used first"), row=1, col=2)
    fig.update_yaxes(title_text=_("% of cells"), row=1, col=2)
    fig.update_layout(height=520, template="plotly_white", margin={"l": 40, "r": 10, "t": 50, "b": 40},
                      showlegend=False, font={"size": 13})
    return fig

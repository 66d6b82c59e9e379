"""Plots of "Inside a VAE": the posterior, the loss terms, the codes against N(0, 1)."""

from __future__ import annotations

import math

import numpy as np

from vae_demo.language import _
from vae_demo.services.inside import Walkthrough


def posterior_figure(w: Walkthrough, max_dims: int = 16):
    """Plotly: μ ± σ per dim (most informative first) with z marked; the KL per dim on the right axis."""
    import plotly.graph_objects as go

    dims = w.order[:max_dims]
    names = [f"z[{d}]" for d in dims]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=w.mu[dims], error_y={"type": "data", "array": w.sigma[dims], "thickness": 2},
                         name="μ ± σ", marker={"color": "#4c78a8"},
                         hovertemplate="%{x}: μ %{y:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=w.z[dims], mode="markers", name="z = μ + σ·ε",
                             marker={"symbol": "diamond", "size": 11, "color": "#e45756"}))
    fig.add_trace(go.Scatter(x=names, y=w.kl_per_dim[dims], mode="lines+markers", name=_("KL (nats)"), yaxis="y2",
                             line={"color": "#54a24b", "dash": "dot"}))
    fig.update_layout(height=255, template="plotly_white", margin={"l": 40, "r": 40, "t": 36, "b": 30},
                      title={"text": _("posterior q(z | x)"), "x": 0, "xref": "paper", "xanchor": "left", "y": 1,
                             "yref": "container", "yanchor": "top", "pad": {"t": 8}, "font": {"size": 13}},
                      legend={"orientation": "h", "y": 1, "yref": "container", "yanchor": "top", "x": 1,
                              "xanchor": "right"},  # in the top margin, beside the title: never over the bars
                      font={"size": 13},
                      yaxis={"title": "z"}, yaxis2={"title": _("KL (nats)"), "overlaying": "y", "side": "right",
                                                    "rangemode": "tozero", "showgrid": False})
    return fig


def elbo_figure(w: Walkthrough):
    """Plotly: the loss as a stacked bar (reconstruction + β·KL) beside what an uninformed decoder pays."""
    import plotly.graph_objects as go

    fig = go.Figure()
    this, nothing = _("this image"), _("decoder that knows nothing")
    fig.add_trace(go.Bar(y=[this], x=[w.recon], name=_("reconstruction ({v:.1f})", v=w.recon), orientation="h",
                         marker={"color": "#4c78a8"}))
    fig.add_trace(go.Bar(y=[this], x=[w.beta * w.kl], name=f"β·KL ({w.beta:g} × {w.kl:.1f})",
                         orientation="h", marker={"color": "#54a24b"}))
    fig.add_trace(go.Bar(y=[nothing], x=[w.uninformed], orientation="h",
                         name=_("uninformed: every pixel 0.5 ({v:.0f})", v=w.uninformed), marker={"color": "#bab0ac"}))
    fig.update_layout(barmode="stack", height=165, template="plotly_white", font={"size": 13},
                      title={"text": _("the loss: reconstruction + β·KL"), "x": 0, "xref": "paper", "xanchor": "left",
                             "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 4}, "font": {"size": 13}},
                      margin={"l": 10, "r": 10, "t": 24, "b": 30}, legend={"orientation": "v", "x": 1.02, "y": 0.5,
                                                                           "yanchor": "middle", "traceorder": "reversed"},
                      xaxis={"title": _("nats") if w.recon_name.startswith("binary") else _("loss")})
    return fig


def histogram_figure(codes_by_model: dict[str, np.ndarray], dims: int = 4, height: int = 200):
    """Plotly: for the first ``dims`` dims, each model's code histogram (as a density) against N(0, 1)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    dims = max(1, min(dims, max(c.shape[1] for c in codes_by_model.values())))
    fig = make_subplots(rows=1, cols=dims, subplot_titles=[f"z[{d}]" for d in range(dims)], shared_yaxes=True)
    grid = np.linspace(-4, 4, 161)
    density = np.exp(-grid ** 2 / 2) / math.sqrt(2 * math.pi)
    colors = ("#e45756", "#4c78a8", "#54a24b")
    for d in range(dims):
        for i, (name, codes) in enumerate(codes_by_model.items()):
            if d < codes.shape[1]:
                fig.add_trace(go.Histogram(x=np.clip(codes[:, d], -6, 6), histnorm="probability density", nbinsx=40,
                                           name=name, marker={"color": colors[i % 3]}, opacity=0.55,
                                           showlegend=d == 0, legendgroup=name), row=1, col=d + 1)
        fig.add_trace(go.Scatter(x=grid, y=density, mode="lines", name="N(0, 1)", line={"color": "black"},
                                 showlegend=d == 0, legendgroup="prior"), row=1, col=d + 1)
    fig.update_layout(barmode="overlay", height=height, template="plotly_white", font={"size": 12},
                      margin={"l": 30, "r": 10, "t": 52, "b": 20}, legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(range=[-5, 5])  # top margin: the dims' titles clear the label Gradio puts over the plot
    return fig


def anomaly_figure(ref: np.ndarray, score: float, dataset: str):
    """Plotly: the test split's reconstruction errors as a histogram, this image's marked."""
    import plotly.graph_objects as go


    hi = max(float(np.percentile(ref, 99.5)), score) * 1.05
    fig = go.Figure(go.Histogram(x=np.clip(ref, 0, hi), nbinsx=50, name=_("{dataset} test images", dataset=dataset),
                                 marker={"color": "#4c78a8"}))
    fig.add_vline(x=score, line_width=3, line_color="#e45756")
    fig.add_annotation(x=score, yref="paper", y=1.0, text=_("this image"), showarrow=False, font={"color": "#e45756"},
                       xanchor="left")
    fig.update_layout(height=380, template="plotly_white", margin={"l": 40, "r": 10, "t": 30, "b": 40},
                      xaxis_title=_("reconstruction error (the model's own loss term)"), yaxis_title=_("test images"),
                      showlegend=False, font={"size": 13})
    return fig

"""Plots of the rate–distortion view: the plane with the family's points and the ELBO's iso-lines, and the KL
per dim of one model."""

from __future__ import annotations

import numpy as np

from vae_demo.language import _
from vae_demo.services.rate import ACTIVE_KL, RatePoint

PICKED, OTHER = "#e45756", "#4c78a8"


def plane_figure(points: list[RatePoint], picked: str | None = None):
    """Plotly: each model at (rate, distortion), labelled by β, the picked one in red; dashed lines D + R = c (one
    ELBO each, −c). A point's ``customdata`` is its model's name (the page's click picks it)."""
    import plotly.graph_objects as go

    r = np.array([p.rate for p in points])
    d = np.array([p.distortion for p in points])
    fig = go.Figure()
    lo, hi = float((r + d).min()), float((r + d).max())
    span = float(d.max() - d.min()) or 1.0  # room above the top point for its label, below for the ELBO labels
    r_max, d_lo, d_hi = float(r.max()) * 1.15 + 1, float(d.min()) - 0.1 * span, float(d.max()) + 0.14 * span
    cs = np.linspace(lo, hi, 4)
    for i, c in enumerate(cs):  # the iso-ELBO lines through the family's span; the outer two labelled
        fig.add_trace(go.Scatter(x=[0, r_max], y=[c, c - r_max], mode="lines", showlegend=False,
                                 hovertemplate=_("D + R = {c:.0f}: ELBO {v:.0f}", c=c, v=-c) + "<extra></extra>",
                                 line={"color": "#bab0ac", "dash": "dash", "width": 1}))
        if i in (0, len(cs) - 1):
            x = min(r_max, c - d_lo)  # where the line leaves the plot: its bottom edge, else its right edge
            fig.add_annotation(x=x, y=c - x, text=_("ELBO {v:.0f}", v=-c), showarrow=False,
                               font={"size": 11, "color": "#79706e"}, xanchor="right", yanchor="bottom")
    colors = [PICKED if p.name == picked else OTHER for p in points]
    fig.add_trace(go.Scatter(  # plain lists, not arrays: the page reads the points (inside_rate.js)
        x=[float(v) for v in r], y=[float(v) for v in d], mode="markers+text", text=[f"β = {p.beta:g}" for p in points], textposition="top right",
        customdata=[p.name for p in points], marker={"size": 14, "color": colors, "line": {"width": 1, "color": "white"}},
        showlegend=False,
        hovertemplate=_("%{text}<br>rate %{x:.1f} nats<br>distortion %{y:.1f} nats") + "<extra></extra>"))
    fig.update_layout(height=320, template="plotly_white", font={"size": 13}, clickmode="event",
                      margin={"l": 60, "r": 20, "t": 36, "b": 45},
                      title={"text": _("rate–distortion plane (click a point)"), "x": 0, "xref": "paper",
                             "font": {"size": 13}},
                      xaxis={"title": _("rate R = KL(q(z | x) ‖ p(z)), nats"), "range": [0, r_max]},
                      yaxis={"title": _("distortion D = −log p(x | z), nats"), "range": [d_lo, d_hi]})
    return fig


def kl_figure(p: RatePoint):
    """Plotly: mean KL per dim, most first; the active-unit threshold as a line."""
    import plotly.graph_objects as go

    order = np.argsort(-p.kl_per_dim, kind="stable")
    names = [f"z[{int(i)}]" for i in order]
    fig = go.Figure(go.Bar(x=names, y=p.kl_per_dim[order], marker={"color": OTHER},
                           hovertemplate="%{x}: %{y:.3f} " + _("nats") + "<extra></extra>"))
    fig.add_hline(y=ACTIVE_KL, line={"color": PICKED, "dash": "dot", "width": 1})
    fig.update_layout(height=185, template="plotly_white", font={"size": 12},
                      margin={"l": 50, "r": 10, "t": 30, "b": 36},
                      title={"text": _("KL per dim (β = {beta:g}): {n} of {d} dims active (KL > {t:g} nats)",
                                       beta=p.beta, n=p.active, d=len(p.kl_per_dim), t=ACTIVE_KL),
                             "x": 0, "xref": "paper", "font": {"size": 13}},
                      yaxis={"title": _("KL (nats)"), "type": "log", "dtick": 1})
    return fig

"""A figure that says what to do next, instead of an empty plot."""

from __future__ import annotations

import plotly.graph_objects as go


def message_figure(text: str) -> go.Figure:
    """A figure without axes that says ``text`` (what to do next)."""
    fig = go.Figure()
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14})
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="#ffffff")
    return fig

"""The frame of the 3D views (one cell, several cells): camera, axes in µm, scale bar, pia cue.

Drawn as neuroglancer and the paper's figures draw a cell: pia up (the release's y axis grows
with depth, so the camera's up is -y and the apical dendrite points up), x to the right.

Every word and number of the frame is page text (plotly's scene annotations, SVG placed at a
3D point and following the scene as it turns), never WebGL text: plotly's 3D axes turn each
title and tick label into triangles on the page's one thread (vectorize-text: draw the string on
a canvas, trace and triangulate its outline with exact arithmetic), about 0.3 s for a cell's axes
in software WebGL (a third of plotting a cell's first figure, in a page of its own). So plotly's
axes are switched off, without a title or a tick for it to vectorise, and the frame draws its
own axes: one line trace (the x axis below the cell, the depth axis left of it, their ticks)
whose numbers and titles are annotations at the same 3D points, so that the words stay on the
lines whatever the camera.
"""

from __future__ import annotations

import numpy as np

from explorer.palette import FrozenDict

NM_PER_UM = 1000.0
#: The camera: looking along +z, -y (towards the pia) up on screen, +x to the right.
CAMERA = FrozenDict(
    {"up": FrozenDict({"x": 0, "y": -1, "z": 0}), "eye": FrozenDict({"x": 0, "y": 0, "z": -1.9}),
     "center": FrozenDict({"x": 0, "y": 0, "z": 0})}
)  # fmt: skip
#: Colour of the axes, their numbers and titles.
AXIS_COLOR = "#444444"
_FONT = FrozenDict({"size": 12, "color": AXIS_COLOR})


def um(a: np.ndarray) -> np.ndarray:
    """nm -> µm, float32 (what the views draw)."""
    return (np.asarray(a, np.float64) / NM_PER_UM).astype(np.float32)


def nice_step(span: float, n: int = 6) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``n`` ticks over ``span``."""
    raw = max(float(span), 1e-9) / n
    power = 10.0 ** np.floor(np.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _ticks(lo: float, hi: float, step: float) -> np.ndarray:
    """The multiples of ``step`` in ``[lo, hi]``."""
    return np.arange(np.ceil(lo / step), np.floor(hi / step) + 1) * step


def axes_frame(lo_um: np.ndarray, hi_um: np.ndarray) -> tuple[list[dict], list[dict]]:
    """Axes in µm around a box (the cell's extent): x along the bottom, depth (y) along the left,
    both with ticks at one round step, and their numbers and titles as annotations.

    Parameters
    ----------
    lo_um, hi_um : ndarray, shape (3,)
        The box's lower and upper corners (µm); y grows with depth, so ``hi_um[1]`` is drawn at
        the bottom.

    Returns
    -------
    traces : list of dict
        One ``scatter3d`` line trace: the two axes and their ticks, NaN-separated (µm).
    annotations : list of dict
        For ``layout.scene.annotations``: each tick's number and each axis's title.
    """
    lo, hi = np.asarray(lo_um, np.float64), np.asarray(hi_um, np.float64)
    span = np.maximum(hi - lo, 1.0)
    step = nice_step(max(span[0], span[1]))
    z = float(lo[2])
    ax_y = float(hi[1] + 0.10 * span[1])  # the x axis, below the cell (and below the scale bar)
    ax_x = float(lo[0] - 0.06 * span[0])  # the depth axis, left of the cell
    tick = 0.015 * float(max(span[0], span[1]))
    xt, yt = _ticks(lo[0], hi[0], step), _ticks(lo[1], hi[1], step)
    nan = np.nan
    pts = [[lo[0], ax_y, z], [hi[0], ax_y, z], [nan] * 3, [ax_x, lo[1], z], [ax_x, hi[1], z], [nan] * 3]
    pts += [p for t in xt for p in ([t, ax_y, z], [t, ax_y + tick, z], [nan] * 3)]
    pts += [p for t in yt for p in ([ax_x, t, z], [ax_x - tick, t, z], [nan] * 3)]
    xyz = np.asarray(pts, np.float32)
    line = dict(type="scatter3d", x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name="axes (µm)",
                line={"color": AXIS_COLOR, "width": 2}, hoverinfo="skip", showlegend=False)  # fmt: skip
    notes = [dict(x=float(t), y=ax_y + tick, z=z, text=f"{t:g}", yanchor="top", yshift=-2) for t in xt]
    notes += [dict(x=ax_x - tick, y=float(t), z=z, text=f"{t:g}", xanchor="right", xshift=-3) for t in yt]
    notes += [
        dict(x=float(lo[0] + hi[0]) / 2, y=ax_y + tick, z=z, text="x (µm)", yanchor="top", yshift=-18),
        dict(x=ax_x - tick, y=float(lo[1] + hi[1]) / 2, z=z, text="depth y (µm)", textangle=-90, xanchor="right",
             xshift=-36),
    ]  # fmt: skip
    return [line], [{"showarrow": False, "font": dict(_FONT), **n} for n in notes]


def scale_bar(lo_um: np.ndarray, hi_um: np.ndarray) -> tuple[list[dict], list[dict]]:
    """A scale bar of a round length (about a fifth of the cell's width) below the cell's lower
    right, and a "pia" cue above the cell.

    Returns
    -------
    traces : list of dict
        The bar (one ``scatter3d`` line, µm).
    annotations : list of dict
        For ``layout.scene.annotations``: the bar's length in µm and the pia cue.
    """
    width = float(hi_um[0] - lo_um[0])
    length = next((s for s in (200, 100, 50, 20, 10, 5, 2, 1) if s <= max(width / 4, 1)), 1)
    y = float(hi_um[1]) + 0.04 * float(hi_um[1] - lo_um[1])  # below the cell: y grows with depth
    x1, z = float(hi_um[0]), float(lo_um[2])
    bar = dict(type="scatter3d", x=[x1 - length, x1], y=[y, y], z=[z, z], mode="lines", line={"color": "#000000", "width": 6},
               name=f"scale bar: {length} µm", hoverinfo="skip", showlegend=False)  # fmt: skip
    top = float(lo_um[1]) - 0.04 * float(hi_um[1] - lo_um[1])
    mid = float(lo_um[0] + hi_um[0]) / 2
    notes = [
        dict(x=x1 - length / 2, y=y, z=z, text=f"{length} µm", showarrow=False, yshift=-14, font={"size": 13, "color": "#000000"}),
        dict(x=mid, y=top, z=z, text="▲ pia", showarrow=False, font={"size": 13, "color": "#000000"}),
    ]  # fmt: skip
    return [bar], notes


def frame(xyz_um: np.ndarray) -> tuple[list[dict], list[dict]]:
    """Axes, scale bar and pia cue around points (µm, shape (N, 3)): their traces and annotations."""
    lo, hi = xyz_um.min(axis=0), xyz_um.max(axis=0)
    axes, axis_notes = axes_frame(lo, hi)
    bar, bar_notes = scale_bar(lo, hi)
    return axes + bar, axis_notes + bar_notes


def scene_layout(uirevision: str, annotations: list[dict] | None = None) -> dict:
    """The layout shared by the one-cell and the several-cell views: pia up, the legend below the
    scene (clear of plotly's toolbar, top right, and of the cell), and the scene's annotations
    (the frame's words, :func:`frame`). Plotly's own axes are off and have neither a title nor
    a tick to turn into WebGL text (see the module's docstring); the frame's traces are the axes.
    """
    off = {"visible": True, "showbackground": False, "showspikes": False, "showgrid": False, "zeroline": False,
           "showline": False, "ticks": "", "showticklabels": False, "tickmode": "array", "tickvals": [], "title": {"text": ""}}  # fmt: skip
    return dict(
        uirevision=uirevision,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        scene={"aspectmode": "data", "domain": {"x": [0, 1], "y": [0.12, 1]}, "camera": {k: dict(v) for k, v in CAMERA.items()},
               "dragmode": "orbit", "xaxis": dict(off), "yaxis": dict(off), "zaxis": dict(off), "annotations": annotations or []},
        legend={"itemsizing": "constant", "groupclick": "togglegroup", "orientation": "h", "x": 0.0, "y": 0.11,
                "xanchor": "left", "yanchor": "top", "font": {"size": 11}},
        paper_bgcolor="#ffffff",
    )  # fmt: skip

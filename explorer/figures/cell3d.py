"""The 3D view of one cell: mitochondria in front, coloured by compartment, on the skeleton.

Drawn as neuroglancer and the paper's figures draw a cell, pia up, in the frame of
:mod:`explorer.figures.scene3d` (axes in µm, a scale bar, a "pia" cue). The mitochondria's
meshes are opaque and in front; synapses are small dots without outlines, shown only when asked
(:data:`SYNAPSES_SHOWN_BELOW`).

Trace budget, whatever the size of the cell: trace 0 marks the selection's centres and trace 1
holds the selection's meshes (both patched by the selection callbacks, which also dim the
other mitochondria); one NaN-broken line per compartment for the skeleton; per compartment one
merged ``Mesh3d`` for the mitochondria plus one marker trace of their centres (hover and click);
one trace per synapse role; the soma; the frame's axes and scale bar. Mesh arrays go as typed
arrays (fast to serialise); the explorer passes meshes simplified for display
(:func:`builder.compute.meshes.cluster_simplify`).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd

from builder.compute.meshes import MeshBatch
from explorer.figures.scene3d import frame, scene_layout, um
from explorer.labels import COMPARTMENT_ORDER
from explorer.palette import COMPARTMENT_COLORS, HIGHLIGHT_COLOR, LABEL_NAMES, SYNAPSE_STYLE

HIGHLIGHT_TRACE = 0
SELECTED_MESH_TRACE = 1
HIGHLIGHT_NAME = "selected"
#: Name of the one-cell view's soma trace (found by it when sent empty, to be filled).
SOMA_NAME = "soma"
#: Synapses are drawn by default when the cell has fewer than this many (else the checkbox).
SYNAPSES_SHOWN_BELOW = 300
#: Opacity of the mitochondria that a selection leaves out.
DIMMED = 0.15
#: Size (px) of a mitochondrion's centre marker.
CENTRE_PX = 3.5


def skeleton_traces(nodes: pd.DataFrame) -> list[dict]:
    """One line trace per compartment (µm); each edge is ``child, parent, NaN``.

    Parameters
    ----------
    nodes : DataFrame
        ``node_id, label, x, y, z, parent`` (nm), every parent among the node ids (a whole or a
        thinned skeleton); edges are coloured by the child's label.
    """
    nodes = nodes.sort_values("node_id")
    xyz = um(nodes[["x", "y", "z"]].to_numpy())
    ids = nodes["node_id"].to_numpy(np.int64)
    pid = nodes["parent"].to_numpy(np.int64)
    # parent ids -> row positions (node ids need not be 0..N-1: the view draws a thinned tree)
    parent = np.where(pid >= 0, np.searchsorted(ids, np.maximum(pid, 0)), -1)
    label = nodes["label"].to_numpy(np.int64)
    child = np.flatnonzero(parent >= 0)
    traces = []
    for code, name in LABEL_NAMES.items():
        c = child[label[child] == code]
        if not len(c):
            continue
        seg = np.full((len(c), 3, 3), np.nan, np.float32)
        seg[:, 0] = xyz[c]
        seg[:, 1] = xyz[parent[c]]
        seg = seg.reshape(-1, 3)
        traces.append(
            dict(
                type="scatter3d", x=seg[:, 0], y=seg[:, 1], z=seg[:, 2], mode="lines", name=f"skeleton: {name}",
                legendgroup="skeleton", showlegend=False, line={"color": COMPARTMENT_COLORS[name], "width": 2}, opacity=0.4,
                hoverinfo="skip",
            )
        )  # fmt: skip
    if traces:  # one legend entry for the skeleton (its colours are the compartments')
        traces[0] = {**traces[0], "showlegend": True, "name": "skeleton (by compartment)"}
    return traces


def merged_mesh(batch: MeshBatch, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merged vertices (µm, float32) and faces (uint16 when they fit, else uint32) of the kept
    meshes, shape (3, V) and (3, F): plotly sends numpy arrays as base64 typed arrays, which
    serialise 7x faster than lists of digits."""
    sub = batch.subset(keep)
    faces = sub.global_faces()
    ftype = np.uint16 if len(sub.vertices) < 65_536 else np.uint32
    return um(sub.vertices).T, faces.astype(ftype).T


def _mito_hover(sel: pd.DataFrame, name: str) -> tuple[np.ndarray, str]:
    """Hover text of mitochondria in words with units."""
    mci = sel["complexityindex"].to_numpy(np.float64) if "complexityindex" in sel else np.full(len(sel), np.nan)
    dist = sel["path_dist_to_soma_um"].to_numpy(np.float64) if "path_dist_to_soma_um" in sel else np.full(len(sel), np.nan)
    text = [f"volume {v:.3f} µm³<br>complexity index {'n/a' if np.isnan(m) else f'{m:.1f}'}<br>"
            f"{'n/a' if np.isnan(d) else f'{d:.0f} µm'} from the soma along the cable"
            for v, m, d in zip(sel["volume_um3"].to_numpy(np.float64), mci, dist)]  # fmt: skip
    return np.array(text, dtype=object), "mitochondrion %{customdata}<br>" + name + "<br>%{text}<extra></extra>"


def mito_traces(mitos: pd.DataFrame, meshes: MeshBatch | None, mesh_ids: np.ndarray | None = None) -> list[dict]:
    """Per compartment: one merged, opaque Mesh3d (or volume-sized markers without meshes) + centres.

    Parameters
    ----------
    mitos : DataFrame
        One cell's mitochondria (``mito_id, compartment, x, y, z, volume_um3, ...``; nm).
    meshes : MeshBatch or None
        Their meshes (nm), drawn.
    mesh_ids : ndarray, shape (M,), int64, optional
        Without ``meshes``: the ids of those that have a mesh; their Mesh3d traces are sent
        empty and hidden, to be filled and shown by :func:`mesh_patch_data` after the first draw
        (at the scale of a whole cell the centres show the mitochondria; a hidden trace costs
        the first draw nothing, while a shown one, even empty, builds its WebGL programs).
        Neither: markers sized by volume.

    The legend entry of a compartment is its centres' trace (shown from the first draw); its
    group toggles the meshes with them.
    """
    traces: list = []
    ids = meshes.ids if meshes is not None else mesh_ids
    mesh_comp = None
    if meshes is not None:
        mesh_comp = pd.Series(mitos["compartment"].to_numpy(), index=mitos["mito_id"].to_numpy()).reindex(meshes.ids).to_numpy()
    for name in COMPARTMENT_ORDER:
        sel = mitos[mitos["compartment"] == name]
        if sel.empty:
            continue
        color, group, label = COMPARTMENT_COLORS[name], f"mito-{name}", f"mitochondria: {name} ({len(sel)})"
        text, hover = _mito_hover(sel, name)
        by_volume = np.clip(4 * np.cbrt(sel["volume_um3"].to_numpy() / 0.05), 2, 14)
        if ids is not None:
            v, f = (
                merged_mesh(meshes, mesh_comp == name)
                if meshes is not None
                else (np.zeros((3, 0), np.float32), np.zeros((3, 0), np.uint16))
            )
            traces.append(dict(type="mesh3d", x=v[0], y=v[1], z=v[2], i=f[0], j=f[1], k=f[2], color=color, opacity=1.0,
                               name=label, legendgroup=group, showlegend=False, visible=meshes is not None, hoverinfo="skip",
                               flatshading=False,
                               lighting={"ambient": 0.55, "diffuse": 0.7, "specular": 0.15}))  # fmt: skip
        if ids is None:
            traces.append(_centres(sel, label, group, color, text, hover, by_volume, True))
            continue
        # at the scale of a whole cell a mitochondrion's mesh is a pixel or two: its centre, drawn
        # opaque at a few pixels, is what shows it (the mesh takes over when zoomed in)
        has = np.isin(sel["mito_id"].to_numpy(), ids)
        traces.append(_centres(sel[has], label, group, color, text[has], hover, CENTRE_PX, True))
        if not has.all():  # a mitochondrion kept without a mesh: a marker sized by its volume
            traces.append(_centres(sel[~has], f"{label}, without mesh", group, color, text[~has], hover, by_volume[~has], False))
    return traces


def _centres(sel: pd.DataFrame, name: str, group: str, color: str, text: np.ndarray, hover: str, size, legend: bool) -> dict:
    """Markers at the mitochondria's centres (µm): hover text and a click's id."""
    xyz = um(sel[["x", "y", "z"]].to_numpy())
    return dict(type="scatter3d", x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers", name=name, legendgroup=group,
                showlegend=legend, marker={"size": size, "color": color, "opacity": 1.0},
                customdata=sel["mito_id"].astype(str).to_numpy(), text=text, hovertemplate=hover)  # fmt: skip


def synapse_points(synapses: pd.DataFrame, role: str) -> dict:
    """The data of one role's synapse trace: ``x, y, z`` (µm) and ``customdata`` (partner, cleft)."""
    sel = synapses[synapses["synapse_type"] == role]
    partner = np.where(role == "pre", sel["post_root_id"], sel["pre_root_id"]).astype(str)
    size = sel["size"].to_numpy() if "size" in sel else np.zeros(len(sel))
    xyz = um(sel[["x", "y", "z"]].to_numpy())
    return {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "customdata": np.stack([partner, size.astype(str)], axis=1)}


def synapse_traces(synapses: pd.DataFrame, visible: bool = True) -> list[dict]:
    """One marker trace per synapse role: small dots without outlines, behind the mitochondria
    in importance. ``visible=False`` keeps them in the legend, hidden and empty: nothing that
    is hidden is sent (the switch fills them, :func:`synapse_points`)."""
    traces = []
    for role, style in SYNAPSE_STYLE.items():
        n = int((synapses["synapse_type"] == role).sum())
        if not n:
            continue
        words = {"pre": "output synapse onto cell", "post": "input synapse from cell", "autapse": "autapse of cell"}[role]
        pts = synapse_points(synapses, role) if visible else {"x": [], "y": [], "z": [], "customdata": []}
        traces.append(dict(type="scatter3d", mode="markers", name=f"{style['name']} ({n})", legendgroup=f"syn-{role}",
                           visible=True if visible else "legendonly", **pts,
                           marker={"size": 1.4, "color": style["color"], "symbol": style["symbol"], "opacity": 0.6, "line": {"width": 0}},
                           hovertemplate=f"{words} %{{customdata[0]}}<br>cleft %{{customdata[1]}} voxels<extra></extra>"))  # fmt: skip
    return traces


def sphere(n_lat: int = 10, n_lon: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """A unit UV sphere: vertices, shape (V, 3), and triangles, shape (F, 3) (the poles repeated
    on each meridian: degenerate triangles there are harmless for display)."""
    lat = np.linspace(0, np.pi, n_lat + 1)[:, None]
    lon = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)[None, :]
    v = np.stack(np.broadcast_arrays(np.sin(lat) * np.cos(lon), np.sin(lat) * np.sin(lon), np.cos(lat)), -1).reshape(-1, 3)
    a = (np.arange(n_lat)[:, None] * n_lon + np.arange(n_lon)[None, :]).ravel()
    b = (np.arange(n_lat)[:, None] * n_lon + (np.arange(n_lon)[None, :] + 1) % n_lon).ravel()
    f = np.concatenate([np.stack([a, a + n_lon, b], 1), np.stack([b, a + n_lon, b + n_lon], 1)])
    return v, f


def soma_mesh(nodes: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """A sphere (220 vertices) at the skeleton's root, of its radius when soma-sized
    (:func:`soma_radius_nm`): ``x, y, z`` (µm, float32) and ``i, j, k`` (uint16); None without a root."""
    root = nodes.loc[nodes["parent"] < 0, ["x", "y", "z"]].to_numpy(np.float64)
    if not len(root):
        return None
    unit, faces = sphere()
    v = um(unit * soma_radius_nm(nodes) + root[0]).T
    f = faces.T.astype(np.uint16)
    return dict(zip("xyzijk", (*v, *f)))


def soma_trace(nodes: pd.DataFrame, name: str = SOMA_NAME, deferred: bool = False) -> list[dict]:
    """The soma as a translucent sphere (:func:`soma_mesh`), so the cell has a body (µm); sent
    empty and hidden when ``deferred`` (filled with the mitochondria's meshes, after the first
    draw: the one Mesh3d of that draw would cost it its WebGL programs and a transparent pass)."""
    mesh = soma_mesh(nodes)
    if mesh is None:
        return []
    if deferred:
        mesh = {k: np.zeros(0, a.dtype) for k, a in mesh.items()}
    return [dict(type="mesh3d", **mesh, color=COMPARTMENT_COLORS["Somatic"], opacity=0.15, name=name, showlegend=True,
                 visible=not deferred, hoverinfo="skip")]  # fmt: skip


def soma_radius_nm(nodes: pd.DataFrame) -> float:
    """The root node's radius when it is soma-sized (3-12 um), else 6 um."""
    r = nodes.loc[nodes["parent"] < 0, "radius"].to_numpy(np.float64)
    return float(r[0]) if len(r) and 3000 <= r[0] <= 12000 else 6000.0


def highlight_traces(points_nm: np.ndarray | None = None) -> list[dict]:
    """Trace 0 (the selection's centres: dots in their compartment's colour, ringed in black) and
    trace 1 (the selection's meshes, opaque), empty until a selection patches them (trace 1
    hidden until then: an empty Mesh3d shown would still build its WebGL programs)."""
    pts = um(np.zeros((0, 3)) if points_nm is None else np.asarray(points_nm).reshape(-1, 3))
    ring = dict(type="scatter3d", x=pts[:, 0].tolist(), y=pts[:, 1].tolist(), z=pts[:, 2].tolist(), mode="markers",
                name=HIGHLIGHT_NAME, marker={"size": 6, "color": HIGHLIGHT_COLOR, "symbol": "circle",
                                             "line": {"color": HIGHLIGHT_COLOR, "width": 2}},
                hoverinfo="skip", showlegend=True)  # fmt: skip
    mesh = dict(type="mesh3d", x=[], y=[], z=[], i=[], j=[], k=[], vertexcolor=[], opacity=1.0, name="selected meshes",
                showlegend=False, visible=False, hoverinfo="skip", flatshading=False)  # fmt: skip
    return [ring, mesh]


def cell_figure(
    cell_id: int,
    nodes: pd.DataFrame,
    mitos: pd.DataFrame,
    meshes: MeshBatch | None,
    synapses: pd.DataFrame,
    show_synapses: bool | None = None,
    mesh_ids: np.ndarray | None = None,
) -> dict:
    """The 3D figure of one cell (µm). ``uirevision`` keeps the camera across updates.

    Parameters
    ----------
    cell_id : int
    nodes : DataFrame, skeleton nodes of the cell (nm)
    mitos : DataFrame, the cell's mitochondria (nm)
    meshes : MeshBatch or None
    synapses : DataFrame, the cell's synapse rows (nm)
    show_synapses : bool, optional
        Draw the synapses (None: when the cell has fewer than :data:`SYNAPSES_SHOWN_BELOW`).
    mesh_ids : ndarray, optional
        Without ``meshes``: ids of the mitochondria with a mesh, whose Mesh3d traces, and the
        soma's, are sent empty and hidden (see :func:`mito_traces`, :func:`soma_trace`).

    Returns
    -------
    dict
        A plotly figure as a plain dict (``go.Figure(result)`` validates it): building plotly
        objects would validate every mesh index in Python, which costs more than all the rest.
    """
    show = len(synapses) < SYNAPSES_SHOWN_BELOW if show_synapses is None else show_synapses
    soma = soma_trace(nodes, deferred=meshes is None and mesh_ids is not None)
    frame_traces, notes = frame(um(nodes[["x", "y", "z"]].to_numpy()))
    data = [*highlight_traces(), *skeleton_traces(nodes), *soma, *mito_traces(mitos, meshes, mesh_ids), *synapse_traces(synapses, show),
            *frame_traces]  # fmt: skip
    return {"data": data, "layout": scene_layout(str(cell_id), notes)}


_DTYPES = MappingProxyType({np.dtype(np.float32): "f4", np.dtype(np.uint16): "u2", np.dtype(np.uint32): "u4"})


def typed(a: np.ndarray) -> dict:
    """A numpy array as plotly.js's typed-array spec (``dtype``, base64 ``bdata``), which it
    decodes itself: a Patch would otherwise send the numbers as text, about 3x the bytes."""
    import base64

    a = np.ascontiguousarray(a)
    return {"dtype": _DTYPES[a.dtype], "bdata": base64.b64encode(a.astype(a.dtype.newbyteorder("<")).tobytes()).decode()}


def mesh_patch_data(mitos: pd.DataFrame, meshes: MeshBatch) -> dict[str, dict]:
    """Per compartment, the merged mesh of its mitochondria (``x, y, z`` µm, ``i, j, k``, typed
    arrays), for filling the Mesh3d traces :func:`mito_traces` sent empty."""
    comp = pd.Series(mitos["compartment"].to_numpy(), index=mitos["mito_id"].to_numpy()).reindex(meshes.ids).to_numpy()
    out = {}
    for name in COMPARTMENT_ORDER:
        if (mitos["compartment"] == name).any():
            v, f = merged_mesh(meshes, comp == name)
            out[name] = {k: typed(a) for k, a in zip("xyzijk", (*v, *f))}
    return out

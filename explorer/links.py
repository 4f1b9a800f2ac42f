"""Neuroglancer links for a selection, built with nglui 4's ``ViewerState``.

Dimensions and layer resolutions are given explicitly, so building a link contacts nothing.
The precomputed layers of the release declare 4 x 4 x 40 nm voxels while positions of the
dataset are nm at the EM resolution (3.58 x 3.58 x 40): a point is written as its voxel index
``nm / (3.58, 3.58, 40)``, which is the release's own ``*_vx`` value, so a mitochondrion's point
lands on its published ``ctr_pos_*_vx`` (as the release's own neuroglancer links place it,
e.g. shandran/layer23-volume mitochondria_analytics link generator: ``voxelSize [4, 4, 40]``,
``voxelCoordinates`` = ``ctr_pos_*_vx``).
The cell's segment (and the mitochondria's, in the mitochondria layer) are added only for real
ids; synthetic demo points are still placed in Phase 1 coordinates over the real EM image.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from builder.schema import LAYER_VOXEL_NM, is_synthetic_segment_id, nm_to_layer_vx
from builder.sources.phase1 import DEFAULT_MESH_SOURCE
from explorer.palette import COMPARTMENT_COLORS, HIGHLIGHT_COLOR

#: Layers of the release (MicronsBinder notebooks/vignette_analysis/mitochondria/lib/ngl.py:
#: IMG_CVPATH, SEG_CVPATH); the mitochondria layer is the builder's default mesh source, its
#: current public endpoint.
PHASE1_EM = "precomputed://gs://microns_public_datasets/pinky100_v0/son_of_alignment_v15_rechunked"
PHASE1_SEG = "precomputed://gs://microns_public_datasets/pinky100_v185/seg"
PHASE1_MITO = DEFAULT_MESH_SOURCE
DEFAULT_VIEWER = "https://neuroglancer-demo.appspot.com/"
MAX_POINTS = 500
log = logging.getLogger(__name__)
#: Synapses in links: light grey, seen on the 3D view's black and the EM's grey alike.
SYNAPSE_COLOR = "#d9d9d9"


@dataclass(frozen=True)
class DatasetLayers:
    """Where a link finds the dataset's own neuroglancer layers (``python -m builder
    neuroglancer``): ``base`` is a URL cloud-volume style (``http://127.0.0.1:8050/precomputed``,
    ``gs://bucket/l23``) and ``present`` the layers the dataset has."""

    base: str
    present: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, base: str, dataset: Path | str) -> DatasetLayers | None:
        """The layers of ``dataset`` (those with an ``info``, as the builder's reader finds
        them) served at ``base``; None if it has none."""
        from builder.store.reader import layer_names

        present = layer_names(dataset)
        return cls(base.rstrip("/"), present) if present else None

    def source(self, layer: str) -> str:
        return f"precomputed://{self.base}/{layer}"


def centre_shader() -> str:
    """Mitochondrion centres coloured by their ``compartment`` enum property, in the explorer's palette."""
    from builder.store.precomputed import CENTRE_COMPARTMENTS

    lines = ["void main() {", "  uint c = prop_compartment();", "  vec3 rgb = vec3(0.6);"]
    for name, code in CENTRE_COMPARTMENTS.items():
        r, g, b = (int(COMPARTMENT_COLORS.get(name, HIGHLIGHT_COLOR)[i : i + 2], 16) / 255 for i in (1, 3, 5))
        lines.append(f"  if (c == {code}u) rgb = vec3({r:.3f}, {g:.3f}, {b:.3f});")
    return "\n".join([*lines, "  setColor(rgb);", "  setPointMarkerSize(5.0);", "}"]) + "\n"


def _add_dataset_layers(vs, layers: DatasetLayers, cells: list[int], mitos: pd.DataFrame | None) -> None:
    """The dataset's layers: the cells' skeletons coloured by compartment (a shader on the
    ``compartment`` vertex attribute, the explorer's palette as its defaults), the selected
    mitochondria's meshes in their compartment's colour (those with a mesh: ``has_mesh``), and
    the cells' synapses and mitochondrion centres (annotation layers filtered by the shown cells)."""
    from nglui.statebuilder import SkeletonRendering
    from nglui.statebuilder.ngl_components import AnnotationLayer, SegmentationLayer

    from builder.store.precomputed.skeletons import compartment_shader

    if "skeletons" in layers.present:
        drawn = SkeletonRendering(shader=compartment_shader(dict(COMPARTMENT_COLORS)), line_width_3d=3, line_width_2d=2)
        vs.add_layer(SegmentationLayer(name="cells", source=layers.source("skeletons"), segments=[int(c) for c in cells],
                                       skeleton_rendering=drawn))  # fmt: skip
    linked = "skeletons" in layers.present
    if "mitochondria" in layers.present and mitos is not None and len(mitos):
        meshed = mitos[mitos["has_mesh"].astype(bool)] if "has_mesh" in mitos else mitos  # a missing mesh is a layer error
        comp = meshed["compartment"] if "compartment" in meshed else pd.Series("selection", index=meshed.index)
        colors = {int(m): COMPARTMENT_COLORS.get(str(c), HIGHLIGHT_COLOR) for m, c in zip(meshed["id"], comp)}
        if colors:
            vs.add_layer(SegmentationLayer(name="mitochondrion meshes", source=layers.source("mitochondria"),
                                           segments=list(colors), segment_colors=colors))  # fmt: skip
    if "synapses" in layers.present:
        vs.add_layer(AnnotationLayer(name="synapses", source=layers.source("synapses"), shader=point_shader(SYNAPSE_COLOR, 2, 0.45),
                                     linked_segmentation={"pre": "cells", "post": "cells"} if linked else None,
                                     filter_by_segmentation=["pre", "post"] if linked else False))  # fmt: skip
    if "mito_centres" in layers.present:
        vs.add_layer(AnnotationLayer(name="mitochondrion centres", source=layers.source("mito_centres"), shader=centre_shader(),
                                     linked_segmentation={"cell": "cells"} if linked else None,
                                     filter_by_segmentation=["cell"] if linked else False))  # fmt: skip


@dataclass(frozen=True)
class Link:
    """A neuroglancer URL and what it holds."""

    url: str
    n_points: int
    n_selected: int
    segments: tuple[int, ...]
    #: the state itself (a short link names it instead of carrying it)
    state: dict = field(default_factory=dict, compare=False, repr=False)
    #: the state's file name, for a short link
    state_name: str = ""

    @property
    def capped(self) -> bool:
        """True when the selection was longer than the link can carry."""
        return self.n_points < self.n_selected


def point_shader(color: str, size: float = 6, opacity: float = 1.0) -> str:
    """An annotation shader drawing points in ``color`` (a UI control in the viewer: the
    explorer's palette by default, changeable there) at ``size`` pixels and ``opacity``."""
    return (
        f'#uicontrol vec3 colour color(default="{color}")\n#uicontrol float size slider(min=1, max=20, default={size:g})\n'
        f"#uicontrol float opacity slider(min=0, max=1, default={opacity:g})\n"
        "void main() {\n  setColor(vec4(colour, opacity));\n  setPointMarkerSize(size);\n}\n"
    )


def _add_public_layers(vs, cells: tuple[int, ...], mito_ids: list[int]) -> None:  # noqa: ANN001 - an nglui ViewerState
    """The public Phase 1 EM, the real ``cells`` in its segmentation and ``mito_ids`` in its
    mitochondria segmentation (layers at the release's voxel, :data:`LAYER_VOXEL_NM`)."""
    layer = list(LAYER_VOXEL_NM)
    vs.add_image_layer(PHASE1_EM, name="em", resolution=layer)
    if cells:
        vs.add_segmentation_layer(PHASE1_SEG, name="seg", resolution=layer, segments=list(cells))
    if len(mito_ids):
        vs.add_segmentation_layer(PHASE1_MITO, name="mitochondria", resolution=layer, segments=[int(m) for m in mito_ids])


def _place_view(vs, vx: np.ndarray, frame_nm: tuple[np.ndarray, np.ndarray] | None, three_d_only: bool) -> None:  # noqa: ANN001
    """Centre the view on the points ``vx`` (n, 3 layer voxels), or frame ``frame_nm`` whole;
    nglui would move it to an annotation layer's first point, so that is turned off."""
    for added in vs.layers:
        if hasattr(added, "set_position"):
            added.set_position = False
    vs.position = vx.mean(axis=0).round(1).tolist()
    if frame_nm is not None:
        _frame(vs, *frame_nm)
    if three_d_only:
        vs.layout = "3d"


def neuroglancer_link(
    points: pd.DataFrame,
    segment_ids: list[int],
    viewer_url: str = DEFAULT_VIEWER,
    max_points: int = MAX_POINTS,
    mito_ids: list[int] = (),
    synapses: pd.DataFrame | None = None,
    layers: DatasetLayers | None = None,
    public: bool = True,
    frame_nm: tuple[np.ndarray, np.ndarray] | None = None,
) -> Link:
    """Neuroglancer state with the Phase 1 EM, the cells' segments and the selected points.

    Parameters
    ----------
    points : DataFrame
        ``id, x, y, z`` (nm), ``description`` (e.g. "mito 123 Basal") and optionally
        ``compartment`` of the selection: one annotation layer per compartment, coloured in the
        explorer's palette by its shader.
    segment_ids : list of int
        Cells to show; synthetic ids are left out (they do not exist in the segmentation).
    viewer_url : str
        Neuroglancer deployment to open.
    max_points : int
        At most this many points are put in the link (the first ones).
    mito_ids : list of int
        Real mitochondrion ids to show in the mitochondria layer (none for a synthetic dataset).
    synapses : DataFrame, optional
        ``x, y, z`` (nm), ``synapse_type``, ``pre_root_id``, ``post_root_id`` of the current cell:
        a "synapses" layer whose points are linked to both partner segments (first
        ``max_points``).
    layers : DatasetLayers, optional
        The dataset's own layers to show beside (the offline viewer's from this explorer, or a
        published copy): skeletons coloured by compartment, the selected mitochondria's meshes,
        synapses and mitochondrion centres of the shown cells. Unlike the public layers, they
        hold the demo's synthetic cells too.
    public : bool
        Add the public Phase 1 EM and segmentation (False when they cannot be reached: the
        viewer would report a layer error).
    frame_nm : (lo, hi), optional
        Corners (nm, shape (3,) each) of what the view must show whole, e.g. the cell: the view
        is centred on it and zoomed out to hold it with a margin (default: the selection's centre).

    Returns
    -------
    Link
    """
    from nglui.statebuilder import ViewerState

    if points.empty:
        raise ValueError("nothing selected")
    shown = points.iloc[:max_points]
    real = tuple(int(s) for s in segment_ids if not is_synthetic_segment_id(int(s))) if public else ()
    vs = ViewerState(dimensions=list(LAYER_VOXEL_NM), infer_coordinates=False)
    if public:
        _add_public_layers(vs, real, mito_ids)
    if layers is not None:
        _add_dataset_layers(vs, layers, [int(s) for s in segment_ids], shown)
    vx = nm_to_layer_vx(shown[["x", "y", "z"]].to_numpy(float))
    _add_selection(vs, shown, vx, bool(real))
    if synapses is not None and len(synapses) and not (layers is not None and "synapses" in layers.present):
        _add_synapses(vs, synapses.iloc[:max_points], bool(real))  # the dataset's synapse layer holds them all
    _place_view(vs, vx, frame_nm, three_d_only=not public)  # no EM to cut sections of: the 3D view alone
    url = vs.to_url(target_url=viewer_url)
    return Link(url=url, n_points=len(shown), n_selected=len(points), segments=real, state=stable_ids(decode_state(url)))


def _add_selection(vs, shown: pd.DataFrame, vx: np.ndarray, linked: bool) -> None:
    """The selected points, one annotation layer per compartment in the explorer's colour."""
    comp = shown["compartment"].astype(str).to_numpy() if "compartment" in shown else np.full(len(shown), "selection")
    data = pd.DataFrame({"x": vx[:, 0], "y": vx[:, 1], "z": vx[:, 2], "description": shown["description"].to_numpy()})
    for name in pd.unique(comp):
        color = COMPARTMENT_COLORS.get(name, HIGHLIGHT_COLOR)
        vs.add_points(
            data[comp == name], name="selection" if name == "selection" else f"mitochondria: {name}", point_column=["x", "y", "z"],
            description_column="description", data_resolution=list(LAYER_VOXEL_NM), linked_segmentation=linked,
            shader=point_shader(color), color=color,
        )  # fmt: skip


def _add_synapses(vs, syn: pd.DataFrame, linked: bool) -> None:
    """The cell's synapses as points linked to both partner segments (small, faint light grey)."""
    svx = nm_to_layer_vx(syn[["x", "y", "z"]].to_numpy(float))
    sdata = pd.DataFrame({
        "x": svx[:, 0], "y": svx[:, 1], "z": svx[:, 2],
        "segments": [[int(a), int(b)] for a, b in zip(syn["pre_root_id"], syn["post_root_id"])],
        "description": (syn["synapse_type"].astype(str) + " synapse " + syn["pre_root_id"].astype(str) + " -> "
                        + syn["post_root_id"].astype(str)).to_numpy(),
    })  # fmt: skip
    vs.add_points(
        sdata, name="synapses", point_column=["x", "y", "z"], segment_column="segments", description_column="description",
        data_resolution=list(LAYER_VOXEL_NM), linked_segmentation="seg" if linked else False,
        shader=point_shader(SYNAPSE_COLOR, 2, 0.45), swap_visible_segments_on_move=False,
    )  # fmt: skip


#: Margin around a framed cell (the 3D view's height holds this much more than the cell; 1.3 left a
#: dendrite at the edge of a 1200 x 900 window).
FRAME_MARGIN = 1.6


def _frame(vs, lo_nm: np.ndarray, hi_nm: np.ndarray) -> None:
    """Centre the views on a box and zoom the 3D view out to hold it whole: ``projectionScale``
    is the 3D viewport's height in the state's canonical units (nm x 4 here, the layer voxel;
    neuroglancer's state JSON), so the larger of the box's x and y sides (the view looks along
    z) in layer voxels, with a margin."""
    lo, hi = np.asarray(lo_nm, float), np.asarray(hi_nm, float)
    vs.position = nm_to_layer_vx(((lo + hi) / 2)[None, :])[0].round(1).tolist()
    side_vx = float(np.max((hi - lo)[:2])) / LAYER_VOXEL_NM[0]
    vs.set_camera(projection_scale=FRAME_MARGIN * side_vx)


def stable_ids(state: dict) -> dict:
    """``state`` with each annotation's random id (nglui draws them) replaced by one made of its
    layer, place and point, so that the same selection gives the same state, byte for byte (the
    short links' files are named by their content)."""
    for layer in state.get("layers", []):
        for k, ann in enumerate(layer.get("annotations", []) or []):
            key = f"{layer.get('name')}:{k}:{ann.get('point')}".encode()
            ann["id"] = hashlib.sha1(key).hexdigest()
    return state


def decode_state(url: str) -> dict:
    """The JSON state of a neuroglancer URL (``...#!{json}``)."""
    return json.loads(urllib.parse.unquote(url.split("#!", 1)[1]))


@dataclass(frozen=True)
class StateStore:
    """Neuroglancer states as content-addressed JSON files, for short links.

    A long state (a selection of hundreds of mitochondria with the cell's synapses is 190,000
    characters in a URL) becomes ``<viewer>#!<url of the state's JSON>``: neuroglancer reads a
    state given as a URL after ``#!`` through its key-value stores (its client's
    ``UrlHashBinding.updateFromUrlHash``: ``#!<scheme>://...`` is read, http(s), gs:// and s3://
    alike). The files are named by the sha256 of their bytes, so writing one twice writes the
    same file, and are served by the explorer at ``/states/`` and uploaded beside the layers by
    ``python -m builder publish`` (``DESTINATION/states/``).
    """

    folder: Path

    def put(self, state: dict) -> str | None:
        """Write ``state`` (once) and return its file name, ``<sha256>.json``; None when it cannot
        be written (a read-only dataset: the links then carry their state)."""
        from builder.errors import OutputWriteError
        from builder.store.atomic import write_bytes

        data = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        name = hashlib.sha256(data).hexdigest() + ".json"
        path = Path(self.folder) / name
        if not path.is_file():
            try:
                write_bytes(path, data)
            except OutputWriteError as exc:
                log.warning("%s; links carry their state instead", exc)
                return None
        return name

    def published(self, name: str, destination: str) -> bool:
        """Whether ``python -m builder publish`` has uploaded the state ``name`` to ``destination``
        (it records what it uploaded in ``states/.published.json``)."""
        try:
            record = json.loads((Path(self.folder) / PUBLISHED_RECORD).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(record, dict) and name in record.get(destination.rstrip("/"), [])


#: What ``publish`` uploaded, per destination (``{destination: [state file names]}``).
PUBLISHED_RECORD = ".published.json"


def short_url(viewer_url: str, base: str, name: str) -> str:
    """``viewer#!base/states/name``: the viewer reads the state from the file."""
    return f"{viewer_url.rstrip('#')}#!{base.rstrip('/')}/states/{name}"


@dataclass(frozen=True)
class LinkOptions:
    """How the explorer makes its links: the public viewer for shared links (``--viewer-url``),
    a published copy of the layers for them (``--layers-url``), and the dataset whose layers
    the offline viewer reads from this explorer."""

    viewer_url: str = DEFAULT_VIEWER
    published: str | None = None
    dataset: Path | None = None
    public_reachable: Callable[[], bool] = lambda: True
    #: where short links' states are written (None: links carry their state)
    states: StateStore | None = None
    #: whether the dataset lies in the Phase 1 volume's space (the release, the demo): the shared
    #: link then shows the public Phase 1 EM and segmentation under it; a lab's volume's does not
    phase1_space: bool = True

    def links(self, host_url: str, points: pd.DataFrame, segment_ids: list[int], **kw) -> tuple[Link, Link | None]:
        """The shared link (public viewer) and the offline one (``host_url`` is the explorer's
        own address: its ``/offline-viewer``, ``/precomputed/`` and ``/states/``); None when the
        dataset has no layers to show offline. With a state store, both are short: the offline
        one names the state served by this explorer, the shared one the state uploaded beside the
        published layers (``python -m builder publish``; long when nothing is published)."""
        shared = neuroglancer_link(points, segment_ids, viewer_url=self.viewer_url, **kw, public=self.phase1_space,
                                   layers=DatasetLayers.of(self.published, self.dataset) if self.published and self.dataset else None)  # fmt: skip
        name = self.states.put(shared.state) if self.states is not None and self.published else None
        if name and self.published:
            shared = replace(shared, url=short_url(self.viewer_url, self.published, name), state_name=name)
        own = DatasetLayers.of(host_url.rstrip("/") + "/precomputed", self.dataset) if self.dataset else None
        if own is None:
            return shared, None
        viewer = host_url.rstrip("/") + "/offline-viewer"
        offline = neuroglancer_link(points, segment_ids, viewer_url=viewer, **kw, layers=own,
                                    public=self.phase1_space and self.public_reachable())  # fmt: skip
        name = self.states.put(offline.state) if self.states is not None else None
        if name:
            offline = replace(offline, url=short_url(viewer, host_url, name), state_name=name)
        return shared, offline

    def unpublished(self, link: Link) -> bool:
        """A short shared link whose state ``publish`` has not uploaded yet (others would get a 404)."""
        return bool(
            link.state_name and self.published and self.states and not self.states.published(link.state_name, self.published)
        )

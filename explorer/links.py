"""Neuroglancer links for a selection, built with nglui 4's ``ViewerState``.

Dimensions and layer resolutions are given explicitly, so building a link contacts nothing.
The cell's segment is added only for real (non-synthetic) ids; synthetic demo points are still
placed in Phase 1 coordinates over the real EM image.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

import numpy as np
import pandas as pd

from builder.schema import SEG_VOXEL_NM, is_synthetic_segment_id

PHASE1_EM = "precomputed://gs://microns_public_datasets/pinky100_v185/em"
PHASE1_SEG = "precomputed://gs://microns_public_datasets/pinky100_v185/seg"
DEFAULT_VIEWER = "https://neuroglancer-demo.appspot.com/"
MAX_POINTS = 500


@dataclass(frozen=True)
class Link:
    """A neuroglancer URL and what it holds."""

    url: str
    n_points: int
    n_selected: int
    segments: tuple[int, ...]

    @property
    def capped(self) -> bool:
        """True when the selection was longer than the link can carry."""
        return self.n_points < self.n_selected


def neuroglancer_link(
    points: pd.DataFrame,
    segment_ids: list[int],
    viewer_url: str = DEFAULT_VIEWER,
    max_points: int = MAX_POINTS,
) -> Link:
    """Neuroglancer state with the Phase 1 EM, the cells' segments and the selected points.

    Parameters
    ----------
    points : DataFrame
        ``id, x, y, z`` (nm) and ``description`` (e.g. "mito 123 Basal") of the selection.
    segment_ids : list of int
        Cells to show; synthetic ids are left out (they do not exist in the segmentation).
    viewer_url : str
        Neuroglancer deployment to open.
    max_points : int
        At most this many points are put in the link (the first ones).

    Returns
    -------
    Link
    """
    from nglui.statebuilder import ViewerState

    if points.empty:
        raise ValueError("nothing selected")
    shown = points.iloc[:max_points]
    real = tuple(int(s) for s in segment_ids if not is_synthetic_segment_id(int(s)))
    vs = ViewerState(dimensions=list(SEG_VOXEL_NM), infer_coordinates=False)
    vs.add_image_layer(PHASE1_EM, name="em", resolution=list(SEG_VOXEL_NM))
    if real:
        vs.add_segmentation_layer(PHASE1_SEG, name="seg", resolution=list(SEG_VOXEL_NM), segments=list(real))
    data = shown[["x", "y", "z", "description"]].copy()
    vs.add_points(
        data, name="selection", point_column=["x", "y", "z"], description_column="description",
        data_resolution=[1, 1, 1], linked_segmentation=bool(real),
    )  # fmt: skip
    centre_vx = shown[["x", "y", "z"]].to_numpy(float).mean(axis=0) / np.asarray(SEG_VOXEL_NM)
    vs.position = centre_vx.round(1).tolist()
    return Link(url=vs.to_url(target_url=viewer_url), n_points=len(shown), n_selected=len(points), segments=real)


def decode_state(url: str) -> dict:
    """The JSON state of a neuroglancer URL (``...#!{json}``)."""
    return json.loads(urllib.parse.unquote(url.split("#!", 1)[1]))

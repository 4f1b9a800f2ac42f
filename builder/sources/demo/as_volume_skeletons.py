"""The demo's skeletons as a lab's volume holds them (``demo --as-volume DIR --skeletons
precomputed|swc|h5``; docs/volume.md), and the ``[skeletons]`` table of VOLUME.toml that reads each
form, so the three can be checked against each other:

* ``cells/skeletons/``: always, precomputed skeletons of the cell layer with the vertex attributes
  ``radius`` (nm) and ``compartment`` (our codes 0-5);
* ``skeletons_swc/<cell_id>.swc``: written as the builder writes its own SWC files
  (:func:`builder.compute.skeleton.swc_frame`, :func:`builder.store.writers.write_swc`: node ids
  0-based in vertex order, parent -1 at the soma node, nm with 2 decimals), the type column our
  compartment in SWC's standard types (:data:`SWC_TYPE_OF_CODE`);
* ``skeletons_h5/<cell_id>.h5``: :func:`meshparty.skeleton_io.write_skeleton_h5` of a MeshParty
  skeleton (vertices nm, root the soma node) with the vertex properties ``radius`` (nm) and
  ``compartment`` (our codes 0-5).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from builder.schema import COMPARTMENT_NAMES

#: The forms ``--skeletons`` offers and the folder of each (the precomputed ones are in cells/).
SKELETON_FORMS = ("precomputed", "swc", "h5")
SKELETON_FOLDERS = {"swc": "skeletons_swc", "h5": "skeletons_h5"}
#: Our compartment code -> SWC type: the standard types for Somatic, Axonal, Basal and Apical
#: (the inverse of ``volume_config.DEFAULT_SWC_TYPES``), 0 (undefined) for Unknown and 7 (custom)
#: for Unknown dendritic; the VOLUME.toml written lists them all in ``[skeletons.swc_types]``.
SWC_TYPE_OF_CODE = {0: 1, 1: 2, 2: 3, 3: 4, 4: 7, 5: 0}
SKELETON_ATTRIBUTES = [
    {"id": "radius", "data_type": "float32", "num_components": 1},
    {"id": "compartment", "data_type": "uint8", "num_components": 1},
]


class DemoSkeleton(Protocol):
    """What a cell of the demo gives the writers (``as_volume._Cell``): nm, our codes 0-5."""

    @property
    def cell_id(self) -> int: ...
    @property
    def vertices(self) -> np.ndarray: ...
    @property
    def edges(self) -> np.ndarray: ...
    @property
    def root(self) -> int: ...
    @property
    def radius(self) -> np.ndarray: ...
    @property
    def labels(self) -> np.ndarray: ...


def check_forms(forms: str | Sequence[str]) -> tuple[str, ...]:
    """The skeleton forms asked for, as a tuple (ValueError for an unknown one)."""
    out = (forms,) if isinstance(forms, str) else tuple(forms)
    bad = [f for f in out if f not in SKELETON_FORMS]
    if bad or not out:
        raise ValueError(f"skeletons {bad or 'none'}: give one or more of {', '.join(SKELETON_FORMS)}")
    return out


def write_swc_folder(folder: Path, cells: Sequence[DemoSkeleton]) -> None:
    """``<cell_id>.swc`` of every cell, types from our codes by :data:`SWC_TYPE_OF_CODE`."""
    from builder.compute.skeleton import orient_tree, swc_frame
    from builder.store.writers import write_swc

    lut = np.array([SWC_TYPE_OF_CODE[c] for c in range(len(SWC_TYPE_OF_CODE))], np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    for c in cells:
        tree = orient_tree(c.vertices, c.edges, c.root, c.radius)
        write_swc(folder / f"{c.cell_id}.swc", swc_frame(tree, lut[np.asarray(c.labels, np.int64)]))


def write_h5_folder(folder: Path, cells: Sequence[DemoSkeleton]) -> None:
    """``<cell_id>.h5`` of every cell: a MeshParty skeleton with ``radius`` and ``compartment``."""
    from meshparty import skeleton, skeleton_io

    folder.mkdir(parents=True, exist_ok=True)
    for c in cells:
        props = {"radius": np.asarray(c.radius, np.float64), "compartment": np.asarray(c.labels, np.uint8)}
        sk = skeleton.Skeleton(np.asarray(c.vertices, np.float64), np.asarray(c.edges, np.int64), root=int(c.root),
                               vertex_properties=props, remove_zero_length_edges=False,
                               meta={"root_id": int(c.cell_id)})  # fmt: skip
        skeleton_io.write_skeleton_h5(sk, str(folder / f"{c.cell_id}.h5"), overwrite=True)


def write_skeletons(vol: Any, out: Path, forms: Sequence[str], cells: Sequence[DemoSkeleton]) -> None:
    """The precomputed skeletons of the cell layer ``vol`` (a CloudVolume), and the SWC and h5
    folders of ``forms`` in ``out``."""
    from cloudvolume import Skeleton

    vol.skeleton.meta.info["vertex_attributes"] = SKELETON_ATTRIBUTES
    vol.skeleton.meta.commit_info()
    for c in cells:
        sk = Skeleton(c.vertices, c.edges, segid=c.cell_id, space="physical", extra_attributes=SKELETON_ATTRIBUTES)
        sk.radius = np.asarray(c.radius).astype(np.float32)
        sk.compartment = c.labels
        vol.skeleton.upload(sk)
    for form in forms:
        if form == "swc":
            write_swc_folder(out / SKELETON_FOLDERS["swc"], cells)
        elif form == "h5":
            write_h5_folder(out / SKELETON_FOLDERS["h5"], cells)


def skeletons_toml(form: str) -> str:
    """The ``[skeletons]`` table of VOLUME.toml reading the demo's skeletons in ``form``."""
    if form == "swc":
        types = "".join(f'"{t}" = "{COMPARTMENT_NAMES[c]}"\n' for c, t in sorted(SWC_TYPE_OF_CODE.items(), key=lambda x: x[1]))
        return f"""[skeletons]
swc = "{SKELETON_FOLDERS["swc"]}"                # a folder of <cell_id>.swc files
position_unit = "nm"
labels = "swc_type"                  # the SWC type column, mapped by the table below

[skeletons.swc_types]                # 1-4 are SWC's standard types (the default table)
{types}"""
    if form == "h5":
        return f"""[skeletons]
meshparty_h5 = "{SKELETON_FOLDERS["h5"]}"        # a folder of <cell_id>.h5 files (MeshParty, nm)
labels = "attribute"
attribute = "compartment"            # a vertex property; values are the project's codes 0-5
"""
    return """[skeletons]
precomputed = "cells"                # the layer whose info names its skeleton directory
labels = "attribute"
attribute = "compartment"            # values are the project's codes 0-5
"""

"""The VOLUME.toml that ``demo --as-volume`` writes next to its layers and tables (docs/volume.md)."""

from __future__ import annotations

from collections.abc import Iterable

from builder.schema import EM_VOXEL_NM
from builder.sources.demo.as_volume_skeletons import skeletons_toml


def fmt_triple(res: Iterable[float]) -> str:
    """``[16, 16, 40]``: a voxel size as TOML and as the summary prints it."""
    return "[" + ", ".join(f"{x:g}" for x in res) + "]"


def volume_toml(res: Iterable[float], ids: list[int], skeletons: str = "precomputed") -> str:
    """The VOLUME.toml of a demo written by :func:`write_demo_as_volume` (docs/volume.md), reading
    the skeletons in the form ``skeletons`` (precomputed, swc or h5)."""
    cells = "[\n" + "".join(f"    {i},\n" for i in ids) + "]"
    return f"""# The demo written as a lab's volume (python -m builder demo --as-volume); docs/volume.md.
format = 1

[cells]
segmentation = "cells"               # a cloud-volume path, or a folder relative to this file
resolution_nm = {fmt_triple(res)}
build = {cells}                      # or "all"

[cells.somata]
table = "somata.parquet"
position_unit = "nm"

[cells.somata.columns]               # the project's name = the table's column
cell_id = "cell_id"
x = "x"
y = "y"
z = "z"
cell_type = "cell_type"
cell_subtype = "cell_subtype"

[mitochondria]
segmentation = "mitochondria"
resolution_nm = {fmt_triple(res)}
meshes = "mitochondria"              # the layer whose info names its mesh directory

{skeletons_toml(skeletons)}
[synapses]
table = "synapses.parquet"
position_unit = "voxels"
position_resolution_nm = {fmt_triple(EM_VOXEL_NM)}

[synapses.columns]
synapse_id = "id"
pre_root_id = "pre_root_id"
post_root_id = "post_root_id"
x = "ctr_pos_x_vx"
y = "ctr_pos_y_vx"
z = "ctr_pos_z_vx"
size = "cleft_vx"
"""

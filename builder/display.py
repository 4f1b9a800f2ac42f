"""Column -> the words and unit a reader sees: one map for every figure, table and hover text.

The units are those of :data:`builder.schema.UNITS` (and of the column names' suffixes);
``label(column)`` gives ``"mitochondrial volume per µm of cable (µm³/µm)"``, ``label(column,
ascii=True)`` the same in plain ASCII for a terminal (``um^3/um``).
"""

from __future__ import annotations

from types import MappingProxyType

#: column -> (words, unit); unit "" for a number without one.
COLUMNS: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        # segments and distance bins (the published analysis)
        "median_diameter_um": ("median dendrite diameter", "µm"),
        "mito_volume_per_um": ("mitochondrial volume per µm of cable", "µm³/µm"),
        "synapse_density_per_um": ("input synapses per µm of cable", "1/µm"),
        "linear_mito_coverage": ("linear mitochondrial coverage (mito length / cable)", ""),
        "frustum_synapse_density_per_um2": ("input synapses per µm² of frustum surface", "1/µm²"),
        "cylinder_synapse_density_per_um2": ("input synapses per µm² of cylinder surface", "1/µm²"),
        "frustum_mito_volume_fraction": ("mitochondrial volume fraction of the frustum", ""),
        "coverage_factor": ("cable covered by ≥ 1 mitochondrion (fraction)", ""),
        "min_dist_to_soma_um": ("distance to the soma surface", "µm"),
        "path_length_um": ("cable", "µm"),
        "mito_volume_um3": ("mitochondrial volume", "µm³"),
        "mean_radius_nm": ("mean radius", "nm"),
        "residual": ("input synapses per µm, residual after diameter", "1/µm"),
        # mitochondria
        "volume_um3": ("mitochondrion volume", "µm³"),
        "complexityindex": ("mitochondrial complexity index (MCI)", ""),
        "surface_area": ("surface area", "µm²"),
        "path_dist_to_soma_um": ("path distance to the soma surface", "µm"),
        # synapses
        "size": ("synaptic cleft size", "voxels"),
        "nearest_mito_path_um": ("path distance to the nearest mitochondrion", "µm"),
    }
)
_ASCII = str.maketrans({"µ": "u", "²": "^2", "³": "^3", "≥": ">="})


def label(column: str, ascii: bool = False) -> str:
    """``"words (unit)"`` for ``column`` (the column name itself when it has no entry)."""
    words, unit = COLUMNS.get(column, (column, ""))
    text = f"{words} ({unit})" if unit else words
    return text.translate(_ASCII) if ascii else text

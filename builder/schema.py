"""Units, label codes, id ranges and table columns of the L2/3 dataset: the one place they live.

Everything that converts a unit or interprets a compartment code imports it from here
(see ``docs/formats.md``, 'Units').
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType

import numpy as np

# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------
# Sources (verified against the public reader of the release, AllenInstitute/MicronsBinder):
# - every ``*_vx`` position of the release is a voxel of one grid whose EM resolution is
#   3.58 x 3.58 x 40 nm: ``211019_mitochondria_info.csv`` carries ``ctr_pos_*_nm`` equal to
#   ``ctr_pos_*_vx * (3.58, 3.58, 40)`` (Zenodo 5579388 rows), and the vignette scripts use
#   ``VOXELRES = [3.58, 3.58, 40]`` (notebooks/vignette_analysis/mitochondria/scripts/
#   computedensitystats.py);
# - the precomputed layers (EM, segmentation, mitochondria) *declare* 4 x 4 x 40 nm voxels, and
#   meshes of the mitochondria layer are in that nominal space: MicronsBinder reads them with
#   ``voxel_scaling = [0.895, 0.895, 1]`` before measuring (lib/mesh.py ``read_mesh``);
# - the smoothed skeletons are already in 3.58-nm space (lib/skel.py reads them unscaled);
# - ``pni_synapses_v185.csv`` ``ctr_pt_*_nm`` are nominal (``ctr_pos_*_vx * 4``): not used.
#: EM resolution of every voxel position of the release (nm per voxel): the output's space.
EM_VOXEL_NM: tuple[float, float, float] = (3.58, 3.58, 40.0)
#: Voxel size the precomputed layers declare (nominal grid): neuroglancer links use it.
LAYER_VOXEL_NM: tuple[float, float, float] = (4.0, 4.0, 40.0)
#: Scale from nominal 4-nm geometry (meshes of the pinky100 layers) to EM space (= 3.58 / 4).
NOMINAL_TO_EM: tuple[float, float, float] = (
    EM_VOXEL_NM[0] / LAYER_VOXEL_NM[0],
    EM_VOXEL_NM[1] / LAYER_VOXEL_NM[1],
    EM_VOXEL_NM[2] / LAYER_VOXEL_NM[2],
)
#: Voxel size (nm) at which ``mito_vx`` counts were taken.
MITO_VOXEL_NM: tuple[float, float, float] = EM_VOXEL_NM
#: Volume of one ``mito_vx`` voxel in um^3 (= 512.656e-9).
MITO_VOXEL_UM3: float = float(np.prod(np.asarray(MITO_VOXEL_NM) * 1e-3))
#: The overlap table counts voxels at mip 1 (7.16 x 7.16 x 40 nm): x4 gives ``mito_vx`` units
#: (MicronsBinder scripts/computedensitystats.py ``formatoverlap``).
OVERLAP_TO_MITO_VX: int = 4
NM_PER_UM: float = 1000.0
#: Largest difference (nm) accepted between a release nm column and the same position
#: recomputed from its voxel column (the release rounds to 0.01 nm).
NM_CHECK_TOLERANCE: float = 0.01

#: Astrocyte rule: a mitochondrion whose centroid lies within this distance of the soma
#: centre is ``Somatic``, otherwise ``Branch``; beyond ``ASTRO_FAR_UM`` it is flagged ``far``.
ASTRO_SOMATIC_UM: float = 7.0
ASTRO_FAR_UM: float = 70.0
#: A neuron without label file gets labels from its synapses; nodes within this distance of
#: the soma centre (its root node) are ``Somatic``, as in the astrocyte rule.
INFERRED_SOMA_UM: float = ASTRO_SOMATIC_UM
#: How those labels are inferred (recorded in the manifest).
AXON_SPLIT_METHOD: str = "meshparty synapse-flow axon split (synapse_betweenness, axon_split_quality)"


def vx_to_nm(vx: np.ndarray) -> np.ndarray:
    """Convert voxel positions of the release to nanometres at the EM resolution.

    Parameters
    ----------
    vx : ndarray, shape (n, 3) or (n, 6)
        Positions (or bounding boxes: lower then upper corner) in release voxels.

    Returns
    -------
    ndarray, same shape, float64
        Positions in nm: ``vx * (3.58, 3.58, 40)``.
    """
    a = np.asarray(vx, dtype=np.float64)
    return a * np.tile(np.asarray(EM_VOXEL_NM), a.shape[-1] // 3)


def nm_to_layer_vx(nm: np.ndarray) -> np.ndarray:
    """Positions in nm (EM space) -> voxel indices of the precomputed layers (neuroglancer).

    Parameters
    ----------
    nm : ndarray, shape (n, 3)

    Returns
    -------
    ndarray, shape (n, 3), float64
        ``nm / (3.58, 3.58, 40)``: the release's own ``*_vx`` values, which the layers (declared
        at 4 x 4 x 40 nm) index directly.
    """
    return np.asarray(nm, dtype=np.float64) / np.asarray(EM_VOXEL_NM)


def nominal_to_em(vertices: np.ndarray) -> np.ndarray:
    """Scale nominal 4-nm geometry (mitochondrion meshes of the layer) to EM space, nm.

    Parameters
    ----------
    vertices : ndarray, shape (n, 3), nm on the nominal 4 x 4 x 40 grid

    Returns
    -------
    ndarray, shape (n, 3), float64, nm at 3.58 x 3.58 x 40
    """
    return np.asarray(vertices, dtype=np.float64) * np.asarray(NOMINAL_TO_EM)


def mito_vx_to_um3(mito_vx: np.ndarray) -> np.ndarray:
    """Convert ``mito_vx`` voxel counts (3.58 x 3.58 x 40 nm voxels) to volumes in um^3."""
    return np.asarray(mito_vx, dtype=np.float64) * MITO_VOXEL_UM3


def complexity_index(area_um2: np.ndarray, volume_um3: np.ndarray) -> np.ndarray:
    """Mitochondrial complexity index ``MCI = SA^3 / (16 pi^2 V^2)`` (Vincent et al. 2019).

    Parameters
    ----------
    area_um2 : ndarray, shape (n,)
        Surface areas in um^2.
    volume_um3 : ndarray, shape (n,)
        Volumes in um^3.

    Returns
    -------
    ndarray, shape (n,)
        Dimensionless MCI; 9 / (4 pi) = 0.716 for a sphere, larger for elongated or
        convoluted shapes (reproduces the published ``complexityindex``).
    """
    a = np.asarray(area_um2, dtype=np.float64)
    v = np.asarray(volume_um3, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return a**3 / (16.0 * np.pi**2 * v**2)


# --------------------------------------------------------------------------------------------
# Compartments
# --------------------------------------------------------------------------------------------
class Compartment(IntEnum):
    """Skeleton node labels of the dataset (SWC type column of our output)."""

    SOMATIC = 0
    AXONAL = 1
    BASAL = 2
    APICAL = 3
    UNKNOWN_DENDRITIC = 4
    UNKNOWN = 5

    @property
    def label(self) -> str:
        """Compartment string used in the mitochondria tables."""
        return COMPARTMENT_NAMES[int(self)]


#: Our code -> compartment string (docs/formats.md, 'Units').
COMPARTMENT_NAMES: dict[int, str] = {
    0: "Somatic",
    1: "Axonal",
    2: "Basal",
    3: "Apical",
    4: "Unknown dendritic",
    5: "Unknown",
}
NAME_TO_CODE: dict[str, int] = {v: k for k, v in COMPARTMENT_NAMES.items()}
#: Astrocyte mitochondria compartments (no node labels exist for astrocytes).
ASTRO_COMPARTMENTS: tuple[str, str] = ("Somatic", "Branch")
ALL_COMPARTMENT_STRINGS: tuple[str, ...] = tuple(COMPARTMENT_NAMES.values()) + ASTRO_COMPARTMENTS[1:]
#: The one compartment palette (Okabe-Ito hues, colour-blind safe; grey for the unassigned
#: "Unknown"), of the explorer's views, the figures of ``analyze`` and the neuroglancer layers.
COMPARTMENT_COLORS: MappingProxyType[str, str] = MappingProxyType(
    {
        "Somatic": "#CC79A7",
        "Axonal": "#0072B2",
        "Basal": "#009E73",
        "Apical": "#E69F00",
        "Unknown dendritic": "#56B4E9",
        "Unknown": "#999999",
        "Branch": "#D55E00",
    }
)


def mito_count_column(compartment: str) -> str:
    """Cell-table column counting a cell's mitochondria in ``compartment`` (``n_mito_basal``...)."""
    return f"n_mito_{compartment.lower().replace(' ', '_')}"


#: Label vocabulary of the *published* skeleton label files and per-mito tables
#: (MicronsBinder ``notebooks/vignette_analysis/mitochondria/lib/compartment.py``): note 4 and 5 are swapped relative to ours.
PUBLISHED_LABEL_NAMES: dict[int, str] = {
    0: "Somatic",
    1: "Axonal",
    2: "Basal",
    3: "Apical",
    4: "Unknown",
    5: "Unknown dendritic",
}


def label_mapping(source_names: Mapping[int, str]) -> dict[int, int]:
    """Map a source's label codes to ours *by name*, never by position.

    Parameters
    ----------
    source_names : mapping int -> str
        The source's code -> compartment name vocabulary.

    Returns
    -------
    dict int -> int
        Source code -> our code.

    Raises
    ------
    KeyError
        If a source name is not one of :data:`COMPARTMENT_NAMES`.
    """
    return {int(code): NAME_TO_CODE[name] for code, name in source_names.items()}


# --------------------------------------------------------------------------------------------
# Cell types
# --------------------------------------------------------------------------------------------
CELL_TYPES: tuple[str, ...] = ("pyramidal", "inhibitory", "astrocyte")
INHIBITORY_SUBTYPES: tuple[str, ...] = (
    "basket",
    "chandelier",
    "bipolar",
    "martinotti",
    "neurogliaform",
)

# --------------------------------------------------------------------------------------------
# Synthetic ids: far above every real Phase 1 (6485183463...) and cubic-mm (8646911...) id
# --------------------------------------------------------------------------------------------
DEMO_SEGMENT_ID_BASE: int = 990_000_000_000_000_000
DEMO_FRAGMENT_ID_BASE: int = 991_000_000_000_000_000
#: Real Phase 1 mito ids are below 4.4 million. Synthetic ones start at 20 million and stay
#: below 31,536,000, above which ``pandas.read_json(..., typ="series")`` turns keys into dates.
DEMO_MITO_ID_BASE: int = 20_000_000
DEMO_SYNAPSE_ID_BASE: int = 990_000_000_000


def is_synthetic_segment_id(seg_id: int | np.ndarray) -> bool | np.ndarray:
    """True for ids of the synthetic demo volume (never a real MICrONS segment)."""
    return np.asarray(seg_id, dtype=np.int64) >= DEMO_SEGMENT_ID_BASE


# --------------------------------------------------------------------------------------------
# Output tables (README, 'The L2/3 dataset format'). Order matters: it is the column order written.
# --------------------------------------------------------------------------------------------
CELL_COLUMNS: tuple[str, ...] = ("cell_id", "x", "y", "z", "cell_type", "cell_subtype")
SYNAPSE_COLUMNS: tuple[str, ...] = (
    "synapse_id",
    "cell_id",
    "synapse_type",
    "x",
    "y",
    "z",
    "pre_root_id",
    "post_root_id",
    "size",
)
#: Extra synapse columns kept in the Parquet table only (the CSV keeps the published columns).
SYNAPSE_EXTRA_COLUMNS: tuple[str, ...] = (
    "node_id",
    "compartment",
    "nearest_mito_id",
    "nearest_mito_path_um",
    "path_dist_to_soma_um",
)
SYNAPSE_TYPES: tuple[str, ...] = ("pre", "post", "autapse")

#: Optional per-mitochondrion bounding-box columns of a source's mitochondria table (nm):
#: lower then upper corner; NaN (or absent) when the source has no bounding boxes.
BBOX_COLUMNS: tuple[str, ...] = ("bbox_lo_x", "bbox_lo_y", "bbox_lo_z", "bbox_hi_x", "bbox_hi_y", "bbox_hi_z")

#: Per-mitochondrion columns, with units in the name where there is one.
MITO_COLUMNS: tuple[str, ...] = (
    "mito_id",
    "cellid",
    "compartment",
    "x",
    "y",
    "z",
    "mito_vx",
    "volume_um3",
    "mesh_volume_um3",
    "surface_area",
    "complexityindex",
    "pc1_um",
    "pc2_um",
    "pc3_um",
    "elongation",
    "flatness",
    "sphericity",
    "n_vertices",
    "n_nodes",
    "path_length_um",
    "path_dist_to_soma_um",
    "euclid_dist_to_soma_um",
    "far",
    "bbox_x_um",
    "bbox_y_um",
    "bbox_z_um",
    "mesh_missing",
    "compartment_method",
    "overlap_vx",
    "volume_in_cell_um3",
)
#: How a mitochondrion's ``compartment`` was decided (``compartment_method``): the published
#: vertex-weighted vote of its mesh vertices' nearest nodes; for a mitochondrion without a mesh,
#: the label of the node nearest its centre (the published analysis had no such mitochondria:
#: exclude them to reproduce it); for astrocytes, the distance rule.
COMPARTMENT_METHODS: tuple[str, str, str] = ("vertex vote", "nearest node (no mesh)", "astrocyte distance rule")
#: The mesh-derived block of MITO_COLUMNS (mesh volume .. sphericity; complexityindex uses the mesh area).
MESH_SHAPE_COLUMNS: tuple[str, ...] = MITO_COLUMNS[MITO_COLUMNS.index("mesh_volume_um3") : MITO_COLUMNS.index("sphericity") + 1]
#: Columns that need the mitochondrion's mesh: NaN when ``mesh_missing`` gives a reason.
MESH_MEASURE_COLUMNS: tuple[str, ...] = MESH_SHAPE_COLUMNS + ("path_length_um",)
NODE_COLUMNS: tuple[str, ...] = (
    "cell_id",
    "node_id",
    "label",
    "x",
    "y",
    "z",
    "radius",
    "parent",
    "path_dist_to_soma_um",
)
MESH_COLUMNS: tuple[str, ...] = ("mito_id", "cell_id", "ox", "oy", "oz", "quantum_nm", "vertices", "faces")
SWC_COLUMNS: tuple[str, ...] = ("node", "label", "x", "y", "z", "radius", "parent")

UNITS: dict[str, str] = {
    "x, y, z (all tables), vertices, radius": "nm",
    "volume_um3, mesh_volume_um3": "um^3",
    "surface_area": "um^2",
    "pc1_um, pc2_um, pc3_um, bbox_x_um, bbox_y_um, bbox_z_um, path_length_um, path_dist_to_soma_um, euclid_dist_to_soma_um": "um",
    "complexityindex, elongation, flatness, sphericity": "dimensionless",
    "mito_vx, overlap_vx": "voxels of 3.58 x 3.58 x 40 nm",
    "volume_in_cell_um3": "um^3",
    "path_dist_to_soma_um (all tables)": "um along the skeleton to the nearest soma-labelled node (the soma surface)",
    "size (synapses)": "cleft voxels (cleft_vx of the synapse table)",
}

#: What a real build converts, recorded in ``manifest.json`` (docs/formats.md, 'Units').
SCALINGS: dict[str, str] = {
    "voxel positions (pt_position, ctr_pos_*_vx, bbox_*_vx, centroid_*)": "nm = vx * (3.58, 3.58, 40)",
    "mitochondrion meshes (nominal 4 x 4 x 40 nm layer)": "scaled by (0.895, 0.895, 1) before measuring or associating",
    "skeletons (smoothed_skeletons_v185)": "already at 3.58 x 3.58 x 40 nm: not scaled",
    "synapse ctr_pt_*_nm (nominal, vx * 4)": "not used",
    "mitochondria ctr_pos_*_nm": "checked against ctr_pos_*_vx * (3.58, 3.58, 40); not used",
    "soma_*_nm (broken in the release)": "not used",
    "neuroglancer links": "positions nm / (3.58, 3.58, 40) (the release's voxels), layers declared at 4 x 4 x 40 nm",
}


# --------------------------------------------------------------------------------------------
# Definitions of the published analysis (recorded in manifest.json; docs/analysis.md)
# --------------------------------------------------------------------------------------------
#: What each quantity of the dataset means, and the MicronsBinder function
#: (notebooks/vignette_analysis/mitochondria/) it follows.
PUBLISHED_DEFINITIONS: dict[str, str] = {
    "compartment": "vertex-weighted majority vote: the label with most mesh vertices whose nearest skeleton node "
    "carries it; ties to the lowest published code (lib/compartment.py majority_vote_label, "
    "scripts/computeextramitostats.py labelcompartments). Mitochondria without a mesh: the label of the node "
    "nearest their centre, compartment_method = 'nearest node (no mesh)' (the published analysis had none)",
    "path_dist_to_soma_um": "path length along the skeleton to the nearest soma-labelled node, the soma surface "
    "(lib/compartment.py compute_node_distance_to_soma); nodes, mitochondria (their centre's nearest node), "
    "synapses, distance bins and segments",
    "mitochondrion volume per node": "each mitochondrion's volume_in_cell_um3 (the overlap table's voxels inside "
    "the cell when present, else mito_vx) shared among nodes by the fraction of its mesh vertices nearest each "
    "(scripts/computedensitystats.py mitovolbygroup, formatoverlap)",
    "linear_mito_coverage": "mito path length / path length: every edge counts once per mitochondrion associated "
    "with both its nodes; can exceed 1 (scripts/computedensitystats.py mitocoveragebygroup, computedensities "
    "linearmitocoverage)",
    "coverage_factor": "the dataset's addition: fraction of the path length whose edges have at least one "
    "mitochondrion on both nodes",
    "synapse_density_per_um": "input (postsynaptic) synapses on the nearest node / path length "
    "(scripts/computedensitystats.py synapsesbygroup, linearsynapsedensity)",
    "segment": "connected piece of one 10-um bin of distance to the soma surface, soma nodes apart; named by its "
    "node nearest the soma, whose label is its compartment; path length over edges with both nodes in it "
    "(lib/skel.py distancebins, branches, pathlength)",
    "median_diameter_um": "median over a segment's nodes of the skeleton's rs (MeshParty shape diameter; the SWC "
    "radius is rs / 2) (scripts/branchdiameter.py groupstats)",
    "dist_to_leaf_um": "minimum over a segment's nodes of the path distance to the nearest end node "
    "(scripts/branchproximity.py, lib/skel.py path_length_to_leaves)",
    "frustum_*": "the dataset's stand-in where the published measure needs the neuron mesh (segment volume, surface "
    "area): conical frustums between node radii along the segment's edges",
}

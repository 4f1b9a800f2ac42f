"""The synthetic demo volume: generated deterministically, written in the published layout.

``generate_demo_volume`` writes what the Phase 1 release provides (soma and cell-type tables,
synapse table, mitochondria table, mito-cell overlaps, MeshParty skeleton h5 + label npy per
cell through meshparty's ``skeleton_io``, and mitochondrion meshes, a few of them missing) into
a raw directory; the pipeline then reads it with :class:`PublishedLayoutSource`, exactly as it
reads real data.

It speaks the release's dialect, mixed units included, so that every conversion a real build
needs runs on every demo build (docs/formats.md, 'Units'):

- every ``*_vx`` position and ``pt_position`` is a voxel at 3.58 x 3.58 x 40 nm;
- the mitochondria table has the 15 published columns, ``ctr_pos_*_nm`` = vx x 3.58;
- the synapse table's ``ctr_pt_*_nm`` are nominal (vx x 4), as published;
- skeletons are in 3.58-nm space, packed as ``211019_smoothed_skeletons.tgz`` that unpacks to
  ``smoothed_skeletons_v185/``;
- mitochondrion meshes are in the layer's nominal 4-nm space (x and y / 0.895);
- the overlap table has the published columns (index, ``row_id``, ``col_id``, ``vals`` at mip 1).

The generator's own truth (soma and synapse positions, mitochondrion centres, areas, volumes and
the node each sits on, all in EM space) is written to ``demo_truth/`` -- not part of the
release layout -- so tests can check that the pipeline recovers it.
Every cell is generated from its own seed, so the volume is identical whatever the number of
worker processes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from builder.compute.morphometrics import mesh_morphometrics
from builder.config import MAX_DEMO_CELLS, DemoParams
from builder.parallel import run_tasks
from builder.schema import (
    DEMO_FRAGMENT_ID_BASE,
    DEMO_MITO_ID_BASE,
    DEMO_SEGMENT_ID_BASE,
    EM_VOXEL_NM,
    INHIBITORY_SUBTYPES,
    MITO_VOXEL_UM3,
    NOMINAL_TO_EM,
    OVERLAP_TO_MITO_VX,
    PUBLISHED_LABEL_NAMES,
    label_mapping,
)
from builder.sources.archive import pack_folder
from builder.sources.demo import morphology as morph_gen
from builder.sources.demo.mitos import tube_meshes
from builder.sources.demo.synapses import generate_synapses
from builder.sources.demo.tiling import plant_cell
from builder.sources.demo.truth import cell_pairs, overlap_fractions, write_truth_segments
from builder.sources.mesh_bundle import write_bundle
from builder.sources.published import (
    CELL_TYPE_TABLE,
    MESH_DIR,
    MITO_TABLE,
    OVERLAP_TABLE,
    SKELETON_ARCHIVE,
    SKELETON_DIR,
    SKELETON_DIR_ALIASES,
    SOMA_TABLE,
    SYNAPSE_TABLE,
    PublishedLayoutSource,
)
from builder.store.lock import folder_lock, refuse_unmarked_folder

log = logging.getLogger(__name__)

MARKER = "demo_volume.json"
GENERATOR_VERSION = "8"
#: Generator truth (not part of the release layout), for the tests.
TRUTH_DIR = "demo_truth"
#: Where workers write skeletons before they are packed into the archive.
STAGING = ".skeletons-staging"
#: Share of the demo's mitochondria written without a mesh (kept by the builder without mesh
#: measures, as real mitochondria missing from the mesh layer are).
MESHLESS_FRACTION = 0.003
BOX_LO_UM = np.array([145.0, 125.0, 2.0])  # where Phase 1 somata lie (pt_position x 3.58,3.58,40)
BOX_SIZE_UM = np.array([250.0, 140.0, 90.0])
NEURITE_MARGIN_UM = 8.0
MAX_MITOS_PER_CELL = 2_000  # mito ids: DEMO_MITO_ID_BASE + cell index * 2000 + k (below 31.5 M for 5000 cells)
_VALENCE = {"pyramidal": "e", "inhibitory": "i", "astrocyte": "g"}


def demo_source(raw_dir: Path) -> PublishedLayoutSource:
    """The demo volume in ``raw_dir`` as a source (marked synthetic)."""
    return PublishedLayoutSource(Path(raw_dir), name="demo", synthetic=True)


def cell_roster(params: DemoParams) -> pd.DataFrame:
    """Cell ids, types, subtypes and soma centres (um) of the demo volume.

    About 10% astrocytes, 20% interneurons cycling through the five subtypes, the rest
    pyramidal; somata at least 12 um apart in the 250 x 140 x 90 um box.
    """
    rng = np.random.default_rng([params.seed, 0])
    n = params.cells
    n_astro = max(1, round(0.1 * n)) if n >= 3 else 0
    n_inh = max(1, round(0.2 * n)) if n >= 2 else 0
    types = ["pyramidal"] * (n - n_astro - n_inh) + ["inhibitory"] * n_inh + ["astrocyte"] * n_astro
    sub = ["pyramidal cell"] * (n - n_astro - n_inh)
    sub += [INHIBITORY_SUBTYPES[i % len(INHIBITORY_SUBTYPES)] for i in range(n_inh)]
    sub += ["astrocyte"] * n_astro
    somata: list[np.ndarray] = []
    while len(somata) < n:
        p = BOX_LO_UM + rng.random(3) * BOX_SIZE_UM
        if not somata or np.min(np.linalg.norm(np.array(somata) - p, axis=1)) > 12.0 or len(somata) > 2000:
            somata.append(p)
    order = rng.permutation(n)
    soma = np.array(somata)
    return pd.DataFrame(
        {
            "cell_id": DEMO_SEGMENT_ID_BASE + 1 + np.arange(n, dtype=np.int64),
            "cell_type": np.array(types)[order],
            "cell_subtype": np.array(sub)[order],
            "sx": soma[:, 0],
            "sy": soma[:, 1],
            "sz": soma[:, 2],
        }
    )


def _ours_to_published() -> np.ndarray:
    lut = np.zeros(6, np.int64)
    for pub, ours in label_mapping(PUBLISHED_LABEL_NAMES).items():
        lut[ours] = pub
    return lut


def _write_skeleton(path: Path, m: morph_gen.Morphology) -> None:
    from meshparty import skeleton, skeleton_io

    sk = skeleton.Skeleton(
        m.vertices_um * 1000.0,
        m.edges,
        root=0,
        # as the release: MeshParty's shape diameter "rs" (nm), twice the radius (the builder halves it)
        vertex_properties={"rs": 2.0 * m.radius_um * 1000.0},
        remove_zero_length_edges=False,
    )
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    skeleton_io.write_skeleton_h5(sk, str(tmp), overwrite=True)
    os.replace(tmp, path)


def _generate_cell(args: tuple) -> tuple[int, morph_gen.Morphology, pd.DataFrame, pd.DataFrame, dict]:
    """Skeleton, labels and mitochondrion meshes of one cell, written to ``raw_dir``; returns its
    index, morphology, mitochondria rows, mitochondria truth, and what the truth of its segments
    needs (planted input rates per node, the (mitochondrion, node) pairs of its meshes)."""
    raw_dir, seed, index, cell_id, cell_type, subtype, soma_um = args
    rng = np.random.default_rng([seed, 1, index])
    bounds = np.stack([BOX_LO_UM - NEURITE_MARGIN_UM, BOX_LO_UM + BOX_SIZE_UM + NEURITE_MARGIN_UM])
    bounds[0, 2] = max(bounds[0, 2], 0.0)
    if cell_type == "pyramidal":
        m = morph_gen.pyramidal(rng, soma_um, bounds)
    elif cell_type == "inhibitory":
        m = morph_gen.interneuron(rng, soma_um, bounds, subtype)
    else:
        m = morph_gen.astrocyte(rng, soma_um, bounds)
    tree_nm = _tree_nm(m)
    m, place, shapes, rates = plant_cell(rng, np.random.default_rng([seed, 4, index]), m, tree_nm, cell_type)
    _write_cell_skeleton(Path(raw_dir) / STAGING / SKELETON_DIR, cell_id, cell_type, m)  # packed into the archive afterwards
    n_mito = len(place.node)
    if n_mito > MAX_MITOS_PER_CELL:
        raise ValueError(f"cell {cell_id}: {n_mito} mitochondria, more than the {MAX_MITOS_PER_CELL} its id range holds")
    ids = DEMO_MITO_ID_BASE + index * MAX_MITOS_PER_CELL + np.arange(n_mito, dtype=np.int64)
    batch = tube_meshes(rng, m, place, ids, shapes)  # EM space (the truth)
    # as in a real mesh layer, a few mitochondria have no mesh (own random stream: the rest of
    # the volume does not depend on it)
    absent = np.random.default_rng([seed, 3, index]).random(batch.n) < MESHLESS_FRACTION
    nominal = replace(batch, vertices=batch.vertices / np.asarray(NOMINAL_TO_EM))  # the layer's 4-nm space
    write_bundle(Path(raw_dir) / MESH_DIR / f"{cell_id}.h5", nominal.subset(~absent), absent=batch.ids[absent])

    props = mesh_morphometrics(batch)
    ctr_nm = props[["cx", "cy", "cz"]].to_numpy()
    mito_vx = np.round(props["mesh_volume_um3"].to_numpy() / MITO_VOXEL_UM3).astype(np.int64)
    rows = _mito_rows(ids, mito_vx, ctr_nm, *batch.bounds(), cell_id)
    # mitochondria at the volume's edge poke out of it: only part of them is inside the cell
    rows["in_cell"] = overlap_fractions(
        np.random.default_rng([seed, 5, index]), ctr_nm / 1000.0, bounds[0], bounds[1] - bounds[0]
    )
    truth = pd.DataFrame({"mito_id": ids, "cell_id": cell_id, "x": ctr_nm[:, 0], "y": ctr_nm[:, 1], "z": ctr_nm[:, 2]})
    truth["surface_area"] = props["surface_area"].to_numpy()
    truth["mesh_volume_um3"] = props["mesh_volume_um3"].to_numpy()
    truth["volume_in_cell_um3"] = mito_vx * MITO_VOXEL_UM3 * rows["in_cell"].to_numpy()
    truth[["node_x", "node_y", "node_z"]] = m.vertices_um[place.node] * 1000.0
    truth["has_mesh"] = ~absent
    pairs = cell_pairs(tree_nm.vertices, batch)
    return index, m, rows, truth, {"rates": rates["synapses_per_um"], "pairs": pairs}


def _write_cell_skeleton(skel_dir: Path, cell_id: int, cell_type: str, m: morph_gen.Morphology) -> None:
    """The cell's ``{id}_skeleton.h5`` and (not for astrocytes, as in the release) its
    ``{id}_skeleton_label.npy`` in the published coding."""
    _write_skeleton(skel_dir / f"{cell_id}_skeleton.h5", m)
    if cell_type != "astrocyte":
        lab_path = skel_dir / f"{cell_id}_skeleton_label.npy"
        tmp = lab_path.with_name(f".{lab_path.name}.tmp-{os.getpid()}.npy")
        np.save(tmp, _ours_to_published()[m.labels].astype(np.int64))
        os.replace(tmp, lab_path)


def _tree_nm(m: morph_gen.Morphology):
    """The morphology as the builder's Tree (nm), for distances and the truth."""
    from builder.compute.skeleton import Tree

    return Tree(vertices=m.vertices_um * 1000.0, parent=m.parent, root=0, radius=m.radius_um * 1000.0)


def _mito_rows(ids, mito_vx, ctr_nm, lo_nm, hi_nm, cell_id) -> pd.DataFrame:
    """Rows of ``211019_mitochondria_info.csv``: its 15 columns, in its order, in its units."""
    vx = np.asarray(EM_VOXEL_NM)
    ctr = np.round(ctr_nm / vx).astype(np.int64)
    lo = np.floor(lo_nm / vx).astype(np.int64)
    hi = np.ceil(hi_nm / vx).astype(np.int64)
    rows = pd.DataFrame({"mito_id": ids, "mito_vx": mito_vx})
    for name, arr in (("ctr_pos", ctr), ("bbox_beg", lo), ("bbox_end", hi)):
        for k, ax in enumerate("xyz"):
            rows[f"{name}_{ax}_vx"] = arr[:, k]
    rows["cellid"] = cell_id
    for k, ax in enumerate("xyz"):  # the release's nm columns: vx x 3.58, rounded to 0.01 nm
        rows[f"ctr_pos_{ax}_nm"] = np.round(ctr[:, k] * vx[k], 2)
    return rows


def _atomic_csv(df: pd.DataFrame, path: Path, **kw) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, **kw)
    os.replace(tmp, path)


def _marker_content(params: DemoParams) -> dict:
    return {"generator_version": GENERATOR_VERSION, "synthetic": True, **asdict(params)}


def generate_demo_volume(raw_dir: Path, params: DemoParams, workers: int = 1) -> PublishedLayoutSource:
    """Write the synthetic volume into ``raw_dir`` (skipped when already there with these params).

    Parameters
    ----------
    raw_dir : Path
    params : DemoParams
        ``seed`` and number of ``cells``.
    workers : int
        Processes generating cells in parallel (the output does not depend on it).

    Returns
    -------
    PublishedLayoutSource
        The generated volume, marked synthetic.
    """
    raw_dir = Path(raw_dir)
    refuse_foreign_folder(raw_dir)  # before the lock: not even a lock file in someone's download
    with folder_lock(raw_dir, f"python -m builder demo --raw-dir {raw_dir}"):
        refuse_foreign_folder(raw_dir)
        return _generate_locked(raw_dir, params, workers)


def refuse_foreign_folder(raw_dir: Path) -> None:
    """Raise unless ``raw_dir`` is new, empty, or a folder the demo generator made (its marker
    is there): the generator deletes and rewrites what it finds, so it must never touch a real
    download or any other folder."""
    refuse_unmarked_folder(raw_dir, MARKER, "the demo generator",
                           "To build these files, pass --source phase1 (the published layout); for the demo, give a new "
                           "or empty --raw-dir (default data/raw/demo)")  # fmt: skip


def _generate_locked(raw_dir: Path, params: DemoParams, workers: int) -> PublishedLayoutSource:
    marker = raw_dir / MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == _marker_content(params):
                log.info("demo volume in %s is up to date", raw_dir)
                return demo_source(raw_dir)
        except json.JSONDecodeError:
            pass
        marker.unlink()
    for stale in [raw_dir / d for d in (*SKELETON_DIR_ALIASES, STAGING, TRUTH_DIR)]:
        shutil.rmtree(stale, ignore_errors=True)
    (raw_dir / SKELETON_ARCHIVE).unlink(missing_ok=True)
    (raw_dir / STAGING / SKELETON_DIR).mkdir(parents=True)
    (raw_dir / MESH_DIR).mkdir(parents=True, exist_ok=True)
    (raw_dir / TRUTH_DIR).mkdir()
    for stale in (raw_dir / MESH_DIR).glob("*"):
        stale.unlink()
    roster = cell_roster(params)
    tasks = [
        (str(raw_dir), params.seed, i, int(r.cell_id), r.cell_type, r.cell_subtype, np.array([r.sx, r.sy, r.sz]))
        for i, r in enumerate(roster.itertuples())
    ]
    log.info("generating a synthetic volume of %d cells in %s", len(tasks), raw_dir)
    morphs: list = [None] * len(tasks)
    mito_rows: list = [None] * len(tasks)
    truths: list = [None] * len(tasks)
    extras: list = [None] * len(tasks)
    with tqdm(total=len(tasks), desc="demo volume", unit="cell", disable=None) as bar:
        for i, m, rows, truth, extra in run_tasks(_generate_cell, tasks, workers):
            morphs[i], mito_rows[i], truths[i], extras[i] = m, rows, truth, extra
            bar.update()
    pack_folder(raw_dir / STAGING / SKELETON_DIR, raw_dir / SKELETON_ARCHIVE)
    shutil.rmtree(raw_dir / STAGING)  # the source unpacks the archive, as a real build does
    mito_truth = pd.concat(truths, ignore_index=True)
    syn, syn_nm = _write_tables(raw_dir, params, roster, morphs, mito_rows, [e["rates"] for e in extras])
    mito_truth.to_parquet(raw_dir / TRUTH_DIR / "mitochondria.parquet", index=False)
    write_truth_segments(raw_dir / TRUTH_DIR, roster, morphs, [e["pairs"] for e in extras], mito_truth, syn, syn_nm)
    marker.write_text(json.dumps(_marker_content(params), indent=2))
    return demo_source(raw_dir)


def _write_tables(
    raw_dir: Path, params: DemoParams, roster: pd.DataFrame, morphs: list, mito_rows: list, input_rates: list
) -> tuple[pd.DataFrame, np.ndarray]:
    """The release's tables; returns the synapse table and its rows' true positions (nm)."""
    rng = np.random.default_rng([params.seed, 2])
    ids = roster["cell_id"].to_numpy()
    vx = np.asarray(EM_VOXEL_NM)
    soma_vx = np.round(roster[["sx", "sy", "sz"]].to_numpy() * 1000.0 / vx).astype(np.int64)
    # somata the pipeline must leave out: microglia / OPC with a soma, one 'uncertain' soma
    n_extra = 2 + len(ids) // 20
    extra_ids = DEMO_SEGMENT_ID_BASE + 500_000 + np.arange(n_extra, dtype=np.int64)
    extra_vx = np.round((BOX_LO_UM + rng.random((n_extra, 3)) * BOX_SIZE_UM) * 1000.0 / vx).astype(np.int64)
    all_ids = np.concatenate([ids, extra_ids])
    all_vx = np.concatenate([soma_vx, extra_vx])
    valence = [_VALENCE[t] for t in roster["cell_type"]] + ["g"] * (n_extra - 1) + ["uncertain"]
    soma = pd.DataFrame(
        {
            "id": 1 + rng.permutation(len(all_ids)),
            "cell_type": valence,
            "pt_position": [f"[{x} {y} {z}]" for x, y, z in all_vx],
            "pt_root_id": all_ids,
            # the published soma_*_nm columns are broken (x*4, x*4, x*40 of pt_position); reproduce the defect
            "soma_x_nm": all_vx[:, 0] * 4,
            "soma_y_nm": all_vx[:, 0] * 4,
            "soma_z_nm": all_vx[:, 0] * 40,
        }
    )
    if len(ids) >= 2:  # the release has duplicated root ids; keep one here
        dup = soma.iloc[[0]].assign(id=len(soma) + 1)
        soma = pd.concat([soma, dup], ignore_index=True)
    _atomic_csv(soma, raw_dir / SOMA_TABLE, index=False)

    ext_type = ["glia"] * n_extra
    ext_sub = [("microglia", "OPC")[k % 2] for k in range(n_extra)]
    cls = pd.DataFrame(
        {
            "centroid_x": all_vx[:, 0],
            "centroid_y": all_vx[:, 1],
            "centroid_z": all_vx[:, 2],
            "cell_segid": all_ids,
            "cell_type": ["glia" if t == "astrocyte" else t for t in roster["cell_type"]] + ext_type,
            "cell_subtype": list(roster["cell_subtype"]) + ext_sub,
        }
    )
    vasc = pd.DataFrame(  # classified objects without a soma entry
        {"centroid_x": [0, 0], "centroid_y": [0, 0], "centroid_z": [0, 0],
         "cell_segid": DEMO_SEGMENT_ID_BASE + 900_000 + np.arange(2), "cell_type": "vasculature", "cell_subtype": "vasculature"}
    )  # fmt: skip
    cls = pd.concat([cls, vasc], ignore_index=True)
    cls.index = cls.index + 1
    _atomic_csv(cls, raw_dir / CELL_TYPE_TABLE)

    mitos = pd.concat(mito_rows, ignore_index=True)
    in_cell = mitos.pop("in_cell").to_numpy(np.float64)
    # mitochondria of outside fragments (no mesh, not in any dataset cell)
    n_orph = max(1, len(mitos) // 20)
    orph = mitos.sample(n=min(n_orph, len(mitos)), random_state=int(rng.integers(1 << 31))).copy()
    orph["mito_id"] = DEMO_MITO_ID_BASE + MAX_MITOS_PER_CELL * MAX_DEMO_CELLS + np.arange(len(orph))
    orph["cellid"] = DEMO_FRAGMENT_ID_BASE + rng.integers(0, 1000, size=len(orph))
    mitos = pd.concat([mitos, orph], ignore_index=True)
    in_cell = np.concatenate([in_cell, np.ones(len(orph))])
    _atomic_csv(mitos, raw_dir / MITO_TABLE, index=False)
    # the overlap table in its published columns: an unnamed index, row_id (mito), col_id
    # (cell), vals (voxels at mip 1, a quarter of mito_vx; less for the mitochondria that leave
    # the volume, see truth.overlap_fractions)
    vals = np.maximum(np.round(mitos["mito_vx"].to_numpy() * in_cell / OVERLAP_TO_MITO_VX), 1).astype(np.int64)
    overlaps = pd.DataFrame({"row_id": mitos["mito_id"], "col_id": mitos["cellid"], "vals": vals})
    _atomic_csv(overlaps, raw_dir / OVERLAP_TABLE)

    syn, syn_nm = generate_synapses(rng, ids, list(roster["cell_type"]), morphs, input_rates)
    _atomic_csv(syn, raw_dir / SYNAPSE_TABLE, index=False)
    truth = pd.DataFrame({"synapse_id": syn["id"], "x": syn_nm[:, 0], "y": syn_nm[:, 1], "z": syn_nm[:, 2]})
    truth.to_parquet(raw_dir / TRUTH_DIR / "synapses.parquet", index=False)
    cells = roster[["cell_id", "cell_type"]].assign(x=roster["sx"] * 1000.0, y=roster["sy"] * 1000.0, z=roster["sz"] * 1000.0)
    cells.to_parquet(raw_dir / TRUTH_DIR / "cells.parquet", index=False)
    return syn, syn_nm

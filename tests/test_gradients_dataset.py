"""Nearest mitochondria and distance bins in a built demo dataset, checked independently."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from builder.store.reader import Dataset
from builder.store.validate import validate_dataset as validate


@pytest.fixture(scope="module")
def ds(small_dataset) -> Dataset:
    return Dataset.open(small_dataset)


def test_nearest_mito_matches_a_per_synapse_search(ds):
    """networkx shortest paths from a few synapses, one at a time, agree with the vectorised column."""
    rng = np.random.default_rng(0)
    for cid in ds.cells.loc[ds.cells.cell_type != "astrocyte", "cell_id"].iloc[:3]:
        nodes = ds.skeleton_nodes(cid)
        xyz = nodes[["x", "y", "z"]].to_numpy()
        child = nodes.loc[nodes.parent >= 0]
        g = nx.Graph()
        g.add_weighted_edges_from(
            (int(c), int(p), float(np.linalg.norm(xyz[c] - xyz[p]) / 1000)) for c, p in zip(child.node_id, child.parent)
        )
        covered: dict[int, list[int]] = {}
        for m, ns in ds.associations(cid).items():
            for n in ns:
                covered.setdefault(int(n), []).append(int(m))
        syn = ds.cell_synapses(cid)
        for _, s in syn.iloc[rng.choice(len(syn), size=min(8, len(syn)), replace=False)].iterrows():
            dist = nx.single_source_dijkstra_path_length(g, int(s.node_id))
            best = min(dist[n] for n in covered)
            assert s.nearest_mito_path_um == pytest.approx(best, abs=1e-6)
            at = [n for n in covered if abs(dist[n] - best) < 1e-9]
            assert int(s.nearest_mito_id) in {m for n in at for m in covered[n]}


def test_bins_conserve_cable_volume_and_synapses(ds):
    bins = ds.distance_bins
    assert (bins.bin_end_um - bins.bin_start_um == 10).all() and (bins.bin_start_um % 10 == 0).all()
    per_cell = bins.groupby("cell_id")[["path_length_um", "mito_volume_um3", "n_synapses_in", "n_synapses_out"]].sum()
    cells = ds.cells.set_index("cell_id")
    assert np.allclose(per_cell.path_length_um, cells.cable_length_um.loc[per_cell.index], rtol=1e-6)
    vol = ds.mitochondria.groupby("cellid").volume_in_cell_um3.sum()  # the volume the published analysis splits
    assert np.allclose(per_cell.mito_volume_um3, vol.reindex(per_cell.index, fill_value=0), rtol=1e-9)
    kinds = ds.synapses.groupby(["cell_id", "synapse_type"]).size().unstack(fill_value=0)
    kinds = kinds.reindex(columns=["pre", "post", "autapse"], fill_value=0).reindex(per_cell.index, fill_value=0)
    assert (per_cell.n_synapses_in == kinds.post + kinds.autapse).all()
    assert (per_cell.n_synapses_out == kinds.pre + kinds.autapse).all()
    # ratios are what they say
    ok = bins.path_length_um > 0
    assert np.allclose(bins.loc[ok, "mito_volume_per_um"], bins.loc[ok, "mito_volume_um3"] / bins.loc[ok, "path_length_um"])
    assert bins.loc[ok, "coverage_factor"].between(0, 1).all()
    # totals in the cell table agree with the bins
    tot = cells.loc[per_cell.index]
    assert np.allclose(tot.mito_volume_um3, per_cell.mito_volume_um3)
    pyr = tot[tot.cell_type == "pyramidal"]
    basal = bins[bins.compartment == "Basal"].groupby("cell_id").path_length_um.sum()
    assert np.allclose(pyr.basal_path_length_um, basal.loc[pyr.index])


def test_dataset_validates_and_catches_a_wrong_nearest_mito(small_dataset, tmp_path):
    import shutil

    assert validate(small_dataset) == []
    copy = tmp_path / "copy"
    shutil.copytree(small_dataset, copy)
    p = copy / "tables" / "synapses.parquet"
    syn = pd.read_parquet(p)
    other = syn.cell_id != syn.cell_id.iloc[0]
    syn.loc[syn.index[0], "nearest_mito_id"] = syn.loc[other, "nearest_mito_id"].dropna().iloc[0]
    syn.to_parquet(p)
    assert any("nearest_mito_id" in problem for problem in validate(copy))


def test_validate_catches_segments_that_lose_volume_or_synapses(small_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_dataset, copy)
    p = copy / "tables" / "segments.parquet"
    seg = pd.read_parquet(p)
    seg.loc[seg.index[seg.mito_volume_um3 > 0][0], "mito_volume_um3"] *= 2  # an equal-share split, say
    seg.loc[seg.index[seg.n_synapses_in > 0][0], "n_synapses_in"] -= 1
    seg.to_parquet(p)
    problems = validate(copy)
    assert any("mitochondrial volume differs" in x for x in problems) and any("input synapses differ" in x for x in problems)


def test_segments_cover_the_cable_of_their_cell_but_the_edges_between_them(ds):
    seg = ds.segments
    per = seg.groupby("cell_id").path_length_um.sum()
    cable = ds.cells.set_index("cell_id").cable_length_um.loc[per.index]
    assert (per <= cable + 1e-6).all() and (per > 0.8 * cable).all()
    # every input synapse row is in one segment
    n_in = ds.synapses[ds.synapses.synapse_type.isin(["post", "autapse"])].groupby("cell_id").size()
    assert (seg.groupby("cell_id").n_synapses_in.sum().reindex(n_in.index) == n_in).all()

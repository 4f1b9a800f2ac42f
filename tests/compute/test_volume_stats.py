"""Chunked mitochondria statistics against a brute-force pass over the whole (small) volume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.compute.volume_stats import (
    MITO_RELEASE_COLUMNS,
    ChunkStats,
    chunk_stats,
    largest_overlap,
    merge_stats,
    release_tables,
    release_units,
)
from builder.schema import OVERLAP_TO_MITO_VX
from builder.sources.release_tables import read_mito_table, read_overlaps

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIG = 864691135494786192  # a minnie65 root id, above 2**53: float64 cannot tell it from BIG + 1
MITO_IDS = np.array([0, 0, 0, 1, 7, BIG, BIG + 1, 2**63 - 1], np.uint64)
CELL_IDS = np.array([0, 3, 648518346348124201, BIG, BIG + 1], np.uint64)


def brute_force(mito: np.ndarray, cells: np.ndarray, offset=(0, 0, 0)) -> dict:
    """Per-label statistics, one label at a time over the whole array (no chunking, no sorting tricks)."""
    out: dict = {}
    for m in np.unique(mito):
        if m == 0:
            continue
        sel = mito == m
        xyz = np.argwhere(sel).astype(np.int64) + np.asarray(offset, np.int64)
        cs, counts = np.unique(cells[sel], return_counts=True)
        pairs = {int(c): int(n) for c, n in zip(cs, counts) if c != 0}
        out[int(m)] = (len(xyz), tuple(int(v) for v in xyz.sum(0)), tuple(xyz.min(0)), tuple(xyz.max(0) + 1), pairs)
    return out


def as_dict(s: ChunkStats) -> dict:
    """The same shape as :func:`brute_force`, from ChunkStats."""
    out = {}
    for i, m in enumerate(s.mito_id):
        sel = s.pair_mito == m
        pairs = {int(c): int(n) for c, n in zip(s.pair_cell[sel], s.pair_voxels[sel])}
        out[int(m)] = (int(s.voxels[i]), tuple(int(v) for v in s.coord_sum[i]), tuple(s.bbox_lo[i]), tuple(s.bbox_hi[i]), pairs)
    return out


def split(mito: np.ndarray, cells: np.ndarray, chunk: tuple[int, int, int], offset=(0, 0, 0)) -> list[ChunkStats]:
    """Chunk statistics over a grid of ``chunk`` (last chunks cut at the array's end)."""
    parts = []
    for x in range(0, mito.shape[0], chunk[0]):
        for y in range(0, mito.shape[1], chunk[1]):
            for z in range(0, mito.shape[2], chunk[2]):
                sl = np.s_[x : x + chunk[0], y : y + chunk[1], z : z + chunk[2]]
                parts.append(chunk_stats(mito[sl], cells[sl], (offset[0] + x, offset[1] + y, offset[2] + z)))
    return parts


@st.composite
def volumes(draw):
    shape = tuple(draw(st.integers(1, 7)) for _ in range(3))
    n = int(np.prod(shape))
    mito = MITO_IDS[np.asarray(draw(st.lists(st.integers(0, len(MITO_IDS) - 1), min_size=n, max_size=n)))].reshape(shape)
    cells = CELL_IDS[np.asarray(draw(st.lists(st.integers(0, len(CELL_IDS) - 1), min_size=n, max_size=n)))].reshape(shape)
    chunk = tuple(draw(st.integers(1, 8)) for _ in range(3))
    offset = tuple(draw(st.integers(0, 10**6)) for _ in range(3))
    return mito, cells, chunk, offset


@SETTINGS
@given(volumes(), st.randoms(use_true_random=False))
def test_merge_over_any_chunking_equals_whole_volume(vol, rnd):
    mito, cells, chunk, offset = vol
    truth = brute_force(mito, cells, offset)
    whole = chunk_stats(mito, cells, offset)
    assert as_dict(whole) == truth
    parts = split(mito, cells, chunk, offset)
    rnd.shuffle(parts)
    # any grouping: merge a random prefix first, then the rest with it (associativity)
    k = rnd.randint(0, len(parts))
    merged = merge_stats([merge_stats(parts[:k]), *parts[k:]])
    assert as_dict(merged) == truth
    for name, a in merged.arrays().items():
        np.testing.assert_array_equal(a, whole.arrays()[name], err_msg=name)
    assert np.all(np.diff(merged.mito_id) > 0)
    order = np.lexsort((merged.pair_cell, merged.pair_mito))
    np.testing.assert_array_equal(order, np.arange(len(order)))  # pairs sorted by (mito, cell)


def test_overlap_pairs_leave_out_cell_zero_and_count_exactly():
    mito = np.zeros((4, 3, 2), np.uint64)
    cells = np.zeros_like(mito)
    mito[0, :, :] = 5  # 6 voxels: 4 in cell 9, 2 outside any cell
    cells[0, :2, :] = 9
    mito[3, 0, 0] = 6  # 1 voxel outside any cell
    s = chunk_stats(mito, cells, (0, 0, 0))
    assert s.mito_id.tolist() == [5, 6] and s.voxels.tolist() == [6, 1]
    assert list(zip(s.pair_mito.tolist(), s.pair_cell.tolist(), s.pair_voxels.tolist())) == [(5, 9, 4)]
    assert largest_overlap(s).tolist() == [9, 0]  # no nonzero cell: cellid 0


def test_cellid_is_largest_overlap_and_smallest_cell_on_a_tie():
    mito = np.full((6, 1, 1), 1, np.uint64)
    mito[4:, 0, 0] = 2
    cells = np.array([30, 30, 20, 10, 40, 50], np.uint64).reshape(6, 1, 1)
    s = chunk_stats(mito, cells, (0, 0, 0))
    assert largest_overlap(s).tolist() == [30, 40]  # 2 voxels beat 1; tie 40 vs 50: the smaller id
    halves = merge_stats([chunk_stats(mito[:3], cells[:3], (0, 0, 0)), chunk_stats(mito[3:], cells[3:], (3, 0, 0))])
    assert largest_overlap(halves).tolist() == [30, 40]


def test_ids_above_2_53_stay_exact():
    mito = np.array([BIG, BIG + 1, BIG, 0], np.uint64).reshape(4, 1, 1)
    cells = np.array([BIG + 1, BIG, BIG + 1, BIG], np.uint64).reshape(4, 1, 1)
    s = chunk_stats(mito, cells, (0, 0, 0))
    assert s.mito_id.tolist() == [BIG, BIG + 1] and s.voxels.tolist() == [2, 1]
    assert largest_overlap(s).tolist() == [BIG + 1, BIG]
    mitos, ov = release_tables(s)
    assert mitos["mito_id"].tolist() == [BIG, BIG + 1] and mitos["cellid"].tolist() == [BIG + 1, BIG]
    assert ov["row_id"].tolist() == [BIG, BIG + 1] and ov["col_id"].tolist() == [BIG + 1, BIG]


@pytest.mark.parametrize(
    ("mito", "match"),
    [
        (np.array([2**63], np.uint64), "2\\*\\*63 or more"),
        (np.array([-4], np.int64), "negative"),
        (np.array([1.0]), "not integers"),
    ],
)
def test_unusable_ids_are_refused(mito, match):
    with pytest.raises(ValueError, match=match):
        chunk_stats(mito.reshape(1, 1, 1), np.zeros((1, 1, 1), np.uint64), (0, 0, 0))


def test_unusable_cell_ids_are_refused_where_they_touch_a_mitochondrion():
    mito = np.array([1, 0], np.uint64).reshape(2, 1, 1)
    cells = np.array([2**64 - 1, 0], np.uint64).reshape(2, 1, 1)
    with pytest.raises(ValueError, match="cell id 18446744073709551615"):
        chunk_stats(mito, cells, (5, 6, 7))


def test_all_background_chunk():
    z = np.zeros((3, 4, 5), np.uint64)
    s = chunk_stats(z, z + 7, (10, 10, 10))
    assert s.n == 0 and s.pair_mito.size == 0
    assert merge_stats([]).n == 0 and merge_stats([s, s]).n == 0
    one = chunk_stats(np.ones((1, 1, 1), np.uint64), np.ones((1, 1, 1), np.uint64), (0, 0, 0))
    assert as_dict(merge_stats([s, one, s])) == as_dict(one)
    mitos, ov = release_tables(s)
    assert list(mitos.columns) == list(MITO_RELEASE_COLUMNS) and mitos.empty and ov.empty


def test_release_units_for_mip1_and_16nm_volumes():
    pos, vol, ovl = release_units((7.16, 7.16, 40))  # the release's own mip 1
    assert pos.tolist() == [2.0, 2.0, 1.0] and vol == 4.0 and ovl == 1.0
    pos, vol, ovl = release_units((16, 16, 40))
    np.testing.assert_allclose(pos, [16 / 3.58, 16 / 3.58, 1.0])
    assert vol == pytest.approx((16 / 3.58) ** 2) and ovl == pytest.approx(vol / OVERLAP_TO_MITO_VX)
    with pytest.raises(ValueError, match="positive"):
        release_units((16, 0, 40))


def test_mip1_volume_gives_the_release_first_rows_box():
    """A box of mip-1 voxels [51867, 51899) x [23508, 23533) x [102, 107) is the first published
    row's box (103734..103798, 47016..47066, 102..107) when the end is exclusive and x, y doubled."""
    lo, hi = np.array([51867, 23508, 102]), np.array([51899, 23533, 107])
    mito = np.zeros(tuple(hi - lo + 2), np.uint64)
    mito[1:-1, 1:-1, 1:-1] = 3384540
    mitos, _ = release_tables(chunk_stats(mito, mito * 0, tuple(lo - 1)), voxel_nm=(7.16, 7.16, 40))
    row = mitos.iloc[0]
    assert [row[f"bbox_beg_{a}_vx"] for a in "xyz"] == [103734, 47016, 102]
    assert [row[f"bbox_end_{a}_vx"] for a in "xyz"] == [103798, 47066, 107]
    assert row["mito_vx"] == 4 * int(np.prod(hi - lo))
    assert [row[f"ctr_pos_{a}_vx"] for a in "xyz"] == [103765, 47040, 104]  # published 103764, 47040, 103: rounded at mip 1


def test_published_rows_were_computed_at_mip1(realdata):
    """Every published x, y position is even and every mito_vx a multiple of 4 (mip-1 counts)."""
    rows = pd.read_csv(realdata / "zenodo-5579388" / "211019_mitochondria_info_sample.csv")
    xy = [f"{p}_{a}_vx" for p in ("ctr_pos", "bbox_beg", "bbox_end") for a in "xy"]
    assert (rows[xy] % 2 == 0).all().all() and (rows["mito_vx"] % 4 == 0).all()
    for a in "xyz":  # the centre lies inside the box, as a centroid of a convex-ish object does
        assert (rows[f"bbox_beg_{a}_vx"] <= rows[f"ctr_pos_{a}_vx"]).all()
        assert (rows[f"ctr_pos_{a}_vx"] < rows[f"bbox_end_{a}_vx"]).all()


def test_release_tables_read_back_by_the_release_parsers(tmp_path):
    rng = np.random.default_rng(3)
    mito = MITO_IDS[:-1][rng.integers(0, len(MITO_IDS) - 1, (9, 8, 5))]
    cells = CELL_IDS[rng.integers(0, len(CELL_IDS), (9, 8, 5))]
    voxel_nm = (7.16, 7.16, 40.0)
    stats = merge_stats(split(mito, cells, (4, 3, 2), offset=(1000, 2000, 30)))
    mitos, ov = release_tables(stats, voxel_nm)
    assert list(mitos.columns) == list(MITO_RELEASE_COLUMNS)
    mitos.to_csv(tmp_path / "mitos.csv", index=False)  # the release's mitochondria table has no index
    ov.to_csv(tmp_path / "overlaps.csv")  # ... its overlap table an unnamed one
    issues: list = []
    got = read_mito_table(tmp_path / "mitos.csv", issues)
    got_ov = read_overlaps(tmp_path / "overlaps.csv", issues)
    assert issues == []
    truth = brute_force(mito, cells, (1000, 2000, 30))
    assert got["mito_id"].tolist() == sorted(truth)
    assert got["mito_vx"].tolist() == [4 * truth[m][0] for m in sorted(truth)]
    best = [min(p, key=lambda c: (-p[c], c)) if p else 0 for p in (truth[m][4] for m in sorted(truth))]
    assert got["cellid"].tolist() == best
    centre = np.array([truth[m][1] for m in sorted(truth)]) / np.array([truth[m][0] for m in sorted(truth)])[:, None]
    # the release voxel holding the centre of the mip-1 voxels' centres (the lower on a boundary)
    expect_nm = np.floor((centre + 0.5) * [2, 2, 1] - 1e-9) * [3.58, 3.58, 40]
    np.testing.assert_allclose(got[["x", "y", "z"]].to_numpy(), expect_nm, atol=0.006)
    lo = np.array([truth[m][2] for m in sorted(truth)]) * [2, 2, 1] * [3.58, 3.58, 40]
    np.testing.assert_allclose(got[["bbox_lo_x", "bbox_lo_y", "bbox_lo_z"]].to_numpy(), lo)
    pairs = sorted((m, c, 4 * n) for m in truth for c, n in truth[m][4].items())
    assert list(got_ov[["mito_id", "cellid", "overlap_vx"]].itertuples(index=False, name=None)) == pairs


def test_centre_of_a_coarse_voxel_is_the_release_voxel_that_holds_it():
    """A lone 16 x 16 x 40 nm voxel at index (0, 1, 2) spans x [0, 16) nm: its centre, 8 nm, is
    in release voxel 2 (3.58 nm each), y 24 nm in voxel 6, z 100 nm in voxel 2; the box covers
    release voxels [0, 5) x [4, 9) x [2, 3)."""
    mito = np.zeros((1, 2, 3), np.uint64)
    mito[0, 1, 2] = 7
    mitos, _ = release_tables(chunk_stats(mito, mito * 0, (0, 0, 0)), voxel_nm=(16, 16, 40))
    row = mitos.iloc[0]
    assert [row[f"ctr_pos_{a}_vx"] for a in "xyz"] == [2, 6, 2]
    assert [row[f"bbox_beg_{a}_vx"] for a in "xyz"] == [0, 4, 2]
    assert [row[f"bbox_end_{a}_vx"] for a in "xyz"] == [5, 9, 3]
    assert row["mito_vx"] == round((16 / 3.58) ** 2) and row["cellid"] == 0

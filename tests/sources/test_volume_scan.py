"""Chunked, resumable scan of two precomputed segmentations (cloud-volume, ``file://``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pytest

from builder.compute.volume_stats import ChunkStats
from builder.errors import InputFileError
from builder.sources.volume_scan import CloudVolumeReader, chunk_boxes, scan_volumes
from tests.compute.test_volume_stats import as_dict, brute_force

BIG = 864691135494786192
SHAPE = (45, 37, 19)  # not a multiple of the storage chunks (32, 32, 16) nor of the scan chunks
CHUNK = (20, 15, 7)
LOG = "builder.sources.volume_scan"


def write_segmentation(path, arr: np.ndarray, offset=(0, 0, 0)) -> str:
    """``arr`` as a precomputed uint64 segmentation at 16 x 16 x 40 nm; returns its ``file://`` path."""
    from cloudvolume import CloudVolume

    info = CloudVolume.create_new_info(
        num_channels=1, layer_type="segmentation", data_type="uint64", encoding="raw", resolution=[16, 16, 40],
        voxel_offset=list(offset), chunk_size=[32, 32, 16], volume_size=list(arr.shape),
    )  # fmt: skip
    url = f"file://{path}"
    vol = CloudVolume(url, info=info, progress=False)
    vol.commit_info()
    x, y, z = offset
    vol[x : x + arr.shape[0], y : y + arr.shape[1], z : z + arr.shape[2]] = arr
    return url


def same(a: ChunkStats, b: ChunkStats) -> bool:
    return all(np.array_equal(x, b.arrays()[k]) for k, x in a.arrays().items())


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """A mitochondria and a cell segmentation (sparse mitochondria, ids above 2**53)."""
    rng = np.random.default_rng(11)
    mito = np.array([0] * 12 + [1, 2, 3, BIG, BIG + 1], np.uint64)[rng.integers(0, 17, SHAPE)]
    mito[:, :, 8:10] = 0  # whole chunks of background
    cells = np.array([0, 5, 648518346348124201, BIG], np.uint64)[rng.integers(0, 4, SHAPE)]
    root = tmp_path_factory.mktemp("seg")
    return write_segmentation(root / "mito", mito), write_segmentation(root / "cells", cells), mito, cells


def computed(caplog) -> int:
    return sum("computed chunk" in r.getMessage() for r in caplog.records if r.name == LOG)


def test_chunk_boxes_tile_the_box():
    boxes = chunk_boxes(((0, 0, 0), SHAPE), CHUNK)
    assert len(boxes) == 3 * 3 * 3
    covered = np.zeros(SHAPE, int)
    for lo, hi in boxes:
        covered[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] += 1
    assert (covered == 1).all()
    with pytest.raises(ValueError, match="chunk shape"):
        chunk_boxes(((0, 0, 0), SHAPE), (0, 4, 4))


def test_scan_equals_brute_force_and_resumes(volumes, tmp_path, caplog):
    mito_url, cells_url, mito, cells = volumes
    work = tmp_path / "work"
    caplog.set_level(logging.DEBUG, logger=LOG)
    first = scan_volumes(mito_url, cells_url, ((0, 0, 0), SHAPE), CHUNK, work)
    assert as_dict(first) == brute_force(mito, cells)
    files = sorted(work.glob("chunk_*.npz"))
    assert len(files) == 27 and computed(caplog) == 27

    caplog.clear()  # a rerun computes nothing
    assert same(scan_volumes(mito_url, cells_url, ((0, 0, 0), SHAPE), CHUNK, work), first) and computed(caplog) == 0

    caplog.clear()  # one chunk lost, one broken, one stale temporary of a killed run: only two recomputed
    files[4].unlink()
    files[9].write_bytes(files[9].read_bytes()[:50])
    (work / ".chunk_0_0_0.npz.tmp-99999").write_bytes(b"half")
    again = scan_volumes(mito_url, cells_url, ((0, 0, 0), SHAPE), CHUNK, work)
    assert computed(caplog) == 2 and same(again, first)
    assert not list(work.glob(".*tmp*"))


def test_chunks_of_other_volumes_are_not_reused(volumes, tmp_path, caplog):
    mito_url, cells_url, mito, cells = volumes
    work = tmp_path / "work"
    scan_volumes(mito_url, cells_url, ((0, 0, 0), SHAPE), CHUNK, work)
    caplog.set_level(logging.DEBUG, logger=LOG)
    swapped = scan_volumes(cells_url, mito_url, ((0, 0, 0), SHAPE), CHUNK, work)  # cells as mitochondria
    assert computed(caplog) == 27 and as_dict(swapped) == brute_force(cells, mito)


def test_one_and_two_workers_agree_on_a_sub_box(volumes, tmp_path):
    mito_url, cells_url, mito, cells = volumes
    box = ((3, 5, 2), (41, 30, 17))
    one = scan_volumes(CloudVolumeReader(mito_url), CloudVolumeReader(cells_url), box, (16, 16, 8), tmp_path / "a")
    two = scan_volumes(mito_url, cells_url, box, (16, 16, 8), tmp_path / "b", workers=2)
    assert same(one, two)
    sl = tuple(slice(a, b) for a, b in zip(*box))
    assert as_dict(one) == brute_force(mito[sl], cells[sl], box[0])  # global voxel indices


def test_voxel_offset_is_global(tmp_path):
    mito = np.zeros((10, 9, 8), np.uint64)
    mito[2:4, 1, 5] = BIG
    cells = np.full_like(mito, 7)
    off = (100, 200, 30)
    m = write_segmentation(tmp_path / "m", mito, off)
    c = write_segmentation(tmp_path / "c", cells, off)
    got = scan_volumes(m, c, (off, (110, 209, 38)), (4, 4, 4), tmp_path / "w")
    assert as_dict(got) == brute_force(mito, cells, off)
    assert got.bbox_lo.tolist() == [[102, 201, 35]] and got.bbox_hi.tolist() == [[104, 202, 36]]


@pytest.mark.parametrize("bad", ["m", "c"])
def test_ids_of_2_63_or_more_are_refused_with_the_volume_named(tmp_path, bad):
    arrays = {"m": np.zeros((8, 8, 4), np.uint64), "c": np.zeros((8, 8, 4), np.uint64)}
    arrays["m"][5, 5, 2] = 7
    arrays[bad][5, 5, 2] = 2**63 + 5
    urls = {k: write_segmentation(tmp_path / k, a) for k, a in arrays.items()}
    what = "mitochondria" if bad == "m" else "cell"
    with pytest.raises(InputFileError, match=rf"{what} id 9223372036854775813 is 2\*\*63 or more") as err:
        scan_volumes(urls["m"], urls["c"], ((0, 0, 0), (8, 8, 4)), (4, 4, 4), tmp_path / "w")
    assert err.value.path == tmp_path / bad


CUTOUTS: list[tuple[int, ...]] = []


@dataclass(frozen=True)
class NpyReader:
    """Any array-like works: here a memory-mapped ``.npy`` that records every cutout's shape."""

    path: str

    def open(self):
        return _Recording(np.load(self.path, mmap_mode="r"))


class _Recording:
    def __init__(self, arr):
        self.arr = arr

    def __getitem__(self, sl):
        out = np.asarray(self.arr[sl])
        CUTOUTS.append(out.shape)
        return out


def test_any_reader_and_reads_bounded_by_the_chunk(volumes, tmp_path):
    _, _, mito, cells = volumes
    np.save(tmp_path / "m.npy", mito)
    np.save(tmp_path / "c.npy", cells)
    CUTOUTS.clear()
    got = scan_volumes(
        NpyReader(str(tmp_path / "m.npy")), NpyReader(str(tmp_path / "c.npy")), ((0, 0, 0), SHAPE), CHUNK, tmp_path / "w"
    )
    assert as_dict(got) == brute_force(mito, cells)
    assert len(CUTOUTS) == 2 * 27 and max(np.prod(s) for s in CUTOUTS) <= np.prod(CHUNK)


def test_a_second_scan_of_one_work_folder_is_refused(volumes, tmp_path):
    from builder.errors import FolderBusyError
    from builder.store.lock import folder_lock

    mito_url, cells_url, _, _ = volumes
    with folder_lock(tmp_path / "work", "another scan"):
        with pytest.raises(FolderBusyError, match="another scan"):
            scan_volumes(mito_url, cells_url, ((0, 0, 0), SHAPE), CHUNK, tmp_path / "work")
    assert not list((tmp_path / "work").glob("chunk_*"))


def test_only_the_chunks_a_sparse_layer_holds_are_scanned(volumes, tmp_path, caplog):
    """``boxes``: the storage chunks a sparse mitochondria layer holds (as builder.sources.volume
    lists them) give the statistics of the whole box; boxes are cut to the box."""
    from builder.sources.volume import present_chunks

    _, cells_url, mito, cells = volumes
    sparse = mito.copy()
    sparse[:, :, 16:] = 0
    url = write_segmentation(tmp_path / "sparse", sparse)
    for f in (tmp_path / "sparse").rglob("*_16-19*"):  # chunks of background need not be written
        f.unlink()
    held = present_chunks(url)
    assert held is not None and len(held) == 4  # of 8
    caplog.set_level(logging.DEBUG, logger=LOG)
    got = scan_volumes(url, cells_url, ((0, 0, 0), SHAPE), (32, 32, 16), tmp_path / "w", boxes=held)
    assert as_dict(got) == brute_force(sparse, cells) and computed(caplog) == 4
    box = ((0, 0, 0), (20, 20, 8))
    cut = scan_volumes(url, cells_url, box, (32, 32, 16), tmp_path / "c", boxes=held)
    assert as_dict(cut) == brute_force(sparse[:20, :20, :8], cells[:20, :20, :8])

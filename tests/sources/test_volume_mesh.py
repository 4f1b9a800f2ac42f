"""Meshes made from a mitochondria segmentation by zmesh (builder/sources/volume_mesh.py): closed,
in nm at the right place, the volume of the voxels, the same whether one block or many chunks
are meshed and stitched, and a reason for an id without a voxel."""

from __future__ import annotations

import numpy as np
import pytest

from builder.compute.meshes import MeshBatch, mesh_problems
from builder.compute.morphometrics import mesh_morphometrics
from builder.compute.smoothing import SMOOTHING, Smoothing, taubin_smooth, thickness_voxels
from builder.sources.volume_mesh import mesh_block, mesh_segmentation, read_index, stitch, write_index

RES = np.array([16.0, 12.0, 40.0])  # anisotropic, as EM volumes are
ORIGIN = np.array([1000, -20, 7])  # global voxel index of labels[0, 0, 0]
ELLIPSOID, BOX, OTHER = 2**62 + 5, 7, 2**62 + 9  # ids above 2**53: never through float


def _labels() -> np.ndarray:
    """(60, 50, 24) uint64: an ellipsoid (semi-axes 400, 250, 300 nm), a box of 3 x 4 x 2 voxels
    touching it, and another label overlapping the ellipsoid's box."""
    shape = (60, 50, 24)
    centre = np.array([30, 24, 12]) * RES
    idx = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1)
    xyz = (idx + 0.5) * RES  # voxel centres, nm from the block's corner
    inside = (((xyz - centre) / np.array([400.0, 250.0, 300.0])) ** 2).sum(axis=-1) <= 1.0
    lab = np.zeros(shape, np.uint64)
    lab[inside] = ELLIPSOID
    lab[50:55, 2:8, 3:6] = OTHER
    lab[4:7, 40:44, 20:22] = BOX
    return lab


def _batch(meshes: dict, res: np.ndarray = RES) -> MeshBatch:
    ids = sorted(meshes)
    return MeshBatch.from_meshes(ids, [(meshes[i][0] * res, meshes[i][1]) for i in ids])


def test_a_block_gives_closed_meshes_of_the_voxels_volume_at_their_place():
    lab = _labels()
    got = mesh_block(lab, np.array([ELLIPSOID, BOX, 12345], np.int64), ORIGIN)
    assert sorted(got) == sorted([ELLIPSOID, BOX])  # 12345 has no voxel: no mesh
    batch = _batch(got)
    assert (mesh_problems(batch) == "").all()  # closed and consistently oriented
    props = mesh_morphometrics(batch)
    lo, hi = batch.bounds()
    for k, i in enumerate(batch.ids):
        vox = np.argwhere(lab == np.uint64(i))
        # the surface passes through the faces of the outermost voxels: voxel j covers [j, j + 1) x RES
        np.testing.assert_allclose(lo[k], (vox.min(axis=0) + ORIGIN) * RES)
        np.testing.assert_allclose(hi[k], (vox.max(axis=0) + 1 + ORIGIN) * RES)
    # marching cubes cuts the voxels' corners: the ellipsoid (16,272 voxels) loses under 1 % of
    # their volume (0.22 %), the small box (24 voxels, all corner) about a sixth (16 %)
    n_ell = int((lab == np.uint64(ELLIPSOID)).sum())
    v_ell = props.loc[ELLIPSOID, "mesh_volume_um3"] * 1e9
    assert 0.99 * n_ell * RES.prod() < v_ell < n_ell * RES.prod()
    v_box = props.loc[BOX, "mesh_volume_um3"] * 1e9
    assert 0.75 * 24 * RES.prod() < v_box < 24 * RES.prod()


def test_blocks_overlapping_by_two_voxels_stitch_into_the_single_blocks_mesh():
    lab = _labels()
    whole = mesh_block(lab, np.array([ELLIPSOID], np.int64), ORIGIN)[ELLIPSOID]
    cut = [(0, 27), (25, 45), (43, 60)]  # along x, each block one voxel past its share on both sides
    pieces = [mesh_block(lab[a:b], np.array([ELLIPSOID], np.int64), ORIGIN + [a, 0, 0])[ELLIPSOID] for a, b in cut]
    v, f = stitch(pieces)
    assert len(v) == len(whole[0]) and len(f) == len(whole[1])
    assert (mesh_problems(_batch({ELLIPSOID: (v, f)})) == "").all()
    a = mesh_morphometrics(_batch({ELLIPSOID: whole}))
    b = mesh_morphometrics(_batch({ELLIPSOID: (v, f)}))
    np.testing.assert_allclose(b[["mesh_volume_um3", "surface_area"]], a[["mesh_volume_um3", "surface_area"]], rtol=1e-12)


def test_taubin_smoothing_keeps_the_volume_and_removes_the_staircase():
    batch = _batch(mesh_block(_labels(), np.array([ELLIPSOID], np.int64), ORIGIN))
    smooth = taubin_smooth(batch, Smoothing(10))
    a, b = mesh_morphometrics(batch), mesh_morphometrics(smooth)
    assert (mesh_problems(smooth) == "").all() and (smooth.faces == batch.faces).all()
    assert abs(b["mesh_volume_um3"].iloc[0] / a["mesh_volume_um3"].iloc[0] - 1) < 0.03
    assert b["surface_area"].iloc[0] < a["surface_area"].iloc[0]
    assert taubin_smooth(batch, Smoothing(0)) is batch


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    """The labels as a precomputed layer of 16 x 16 x 8 voxel chunks (the ellipsoid crosses 24), scanned."""
    from cloudvolume import CloudVolume

    from builder.sources.volume_scan import scan_volumes

    root = tmp_path_factory.mktemp("volume_mesh")
    lab = _labels()
    info = CloudVolume.create_new_info(num_channels=1, layer_type="segmentation", data_type="uint64",
                                       encoding="compressed_segmentation", resolution=RES.tolist(),
                                       voxel_offset=ORIGIN.tolist(), volume_size=list(lab.shape), chunk_size=[16, 16, 8])  # fmt: skip
    path = f"file://{root / 'mito'}"
    vol = CloudVolume(path, info=info, progress=False)
    vol.commit_info()
    vol[:, :, :] = lab
    box = (tuple(int(v) for v in ORIGIN), tuple(int(v) for v in ORIGIN + lab.shape))
    stats = scan_volumes(path, path, box, (16, 16, 8), root / "scan")
    write_index(root / "scan", stats)
    return path, root / "scan"


def test_the_segmentation_is_meshed_chunk_by_chunk_with_a_reason_for_an_id_without_voxels(layer):
    path, scan = layer
    index = read_index(scan)
    assert index is not None and len(np.unique(index.pair_chunk[index.pair_mito == index.find(np.array([ELLIPSOID]))[0]])) > 8
    batch, reasons = mesh_segmentation(path, RES, scan, np.array([BOX, ELLIPSOID, 4242], np.int64), Smoothing(0))
    assert batch.ids.tolist() == [BOX, ELLIPSOID] and batch.ids.dtype == np.int64
    assert list(reasons) == [4242] and "not in the scan" in reasons[4242]
    assert (mesh_problems(batch) == "").all()
    one = _batch(mesh_block(_labels(), np.array([BOX, ELLIPSOID], np.int64), ORIGIN))
    np.testing.assert_allclose(mesh_morphometrics(batch).to_numpy(float), mesh_morphometrics(one).to_numpy(float), rtol=1e-9)


def test_without_the_scans_index_every_id_gets_a_reason(layer, tmp_path):
    batch, reasons = mesh_segmentation(layer[0], RES, tmp_path, np.array([BOX], np.int64))
    assert batch.n == 0 and "index" in reasons[BOX]


def test_only_meshes_four_voxels_thick_are_smoothed(layer):

    raw, _ = mesh_segmentation(layer[0], RES, layer[1], np.array([BOX, ELLIPSOID], np.int64), Smoothing(0))
    smooth, _ = mesh_segmentation(layer[0], RES, layer[1], np.array([BOX, ELLIPSOID], np.int64))
    thick = thickness_voxels(raw, RES)
    assert thick[0] < SMOOTHING.min_thickness_voxels <= thick[1]  # the 3 x 4 x 2 box; the ellipsoid (~25 voxels across)
    assert np.array_equal(smooth.mesh(0)[0], raw.mesh(0)[0]) and not np.allclose(smooth.mesh(1)[0], raw.mesh(1)[0])

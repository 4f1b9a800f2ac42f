"""The neuroglancer layers: read back by the field's readers (cloud-volume for skeletons and
meshes, the client's own record layout for annotations), shards byte-identical to
cloud-volume's, checksummed and rewritten in place by ``python -m builder neuroglancer``."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh

from builder.__main__ import main
from builder.schema import NOMINAL_TO_EM
from builder.store.manifest import read_manifest, verify_checksums
from builder.store.paths import DatasetPaths
from builder.store.precomputed import CENTRE_COMPARTMENTS, common, write_layers
from builder.store.precomputed.annotations import PointLayer, Property, record_dtype, write_points
from builder.store.precomputed.common import sharding_spec, write_objects
from builder.store.precomputed.meshes import encode_mesh, manifest_bytes
from builder.store.precomputed.skeletons import ATTRIBUTES
from builder.store.reader import Dataset
from builder.store.validate import validate_dataset


def _cloudvolume(root: Path, tmp: Path):
    """A cloud-volume view of the skeleton and mesh layers (behind a minimal segmentation info)."""
    from cloudvolume import CloudVolume

    info = {"type": "segmentation", "data_type": "uint64", "num_channels": 1, "mesh": "mitochondria", "skeletons": "skeletons",
            "scales": [{"key": "1_1_1", "resolution": [1, 1, 1], "voxel_offset": [0, 0, 0], "size": [1, 1, 1],
                        "chunk_sizes": [[1, 1, 1]], "encoding": "raw"}]}  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "info").write_text(json.dumps(info))
    for layer in ("mitochondria", "skeletons"):
        os.symlink(root / layer, tmp / layer)
    return CloudVolume(f"precomputed://file://{tmp}", progress=False)


def read_shard(folder: Path, key: int) -> bytes | None:
    """One object of a ``neuroglancer_uint64_sharded_v1`` folder, as the client locates it
    (shard index -> minishard index -> data); written here only to read the annotation shards."""
    spec = json.loads((folder.parent / "info").read_text())
    spec = next(s for s in [spec.get("sharding"), spec.get("by_id", {}).get("sharding"),
                            *[r.get("sharding") for r in spec.get("relationships", [])]]
                if s and folder.name in ("by_id", *[r["key"] for r in spec.get("relationships", [])]))  # fmt: skip
    from cloudvolume.datasource.precomputed.sharding import ShardingSpecification

    sp = ShardingSpecification.from_dict(spec)
    shard, mini = common.shard_locations(sp, np.array([key], np.uint64))
    name = format(int(shard[0]), "x").zfill(int(np.ceil(sp.shard_bits / 4))) + ".shard"
    path = folder / name
    if not path.is_file():
        return None
    raw = path.read_bytes()
    n_mini = 2**sp.minishard_bits
    fixed = np.frombuffer(raw[: 16 * n_mini], "<u8").reshape(-1, 2)
    start, stop = fixed[int(mini[0])]
    idx = raw[16 * n_mini + int(start) : 16 * n_mini + int(stop)]
    if sp.minishard_index_encoding == "gzip":
        idx = gzip.decompress(idx)
    entries = np.frombuffer(idx, "<u8").reshape(3, -1)
    keys, offsets = np.cumsum(entries[0]), entries[1].copy()
    offsets = np.cumsum(offsets + np.r_[0, entries[2][:-1]])  # delta from the end of the previous
    hit = np.flatnonzero(keys == key)
    if not len(hit):
        return None
    i = int(hit[0])
    data = raw[16 * n_mini + int(offsets[i]) : 16 * n_mini + int(offsets[i] + entries[2][i])]
    return gzip.decompress(data) if sp.data_encoding == "gzip" else data


@pytest.fixture(scope="module")
def ds(small_dataset):
    return Dataset.open(small_dataset)


def test_the_build_writes_checksummed_layers(small_dataset):
    root = small_dataset / "precomputed"
    for layer in ("skeletons", "mitochondria", "synapses", "mito_centres"):
        assert (root / layer / "info").is_file(), layer
    manifest = read_manifest(DatasetPaths(small_dataset))
    listed = [f for f in manifest["files"] if f.startswith("precomputed/")]
    assert len(listed) == sum(1 for p in root.rglob("*") if p.is_file())
    report = json.loads((small_dataset / "build_report.json").read_text())
    assert report["neuroglancer_layers"]["mitochondria"]["files"] >= 2
    assert validate_dataset(small_dataset) == []


def test_skeletons_read_back_by_cloudvolume_with_compartments(ds, small_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "SHARD_ABOVE", 0)  # the 6 cells sharded, as at 450
    out = tmp_path / "sharded"
    shutil.copytree(small_dataset / "tables", out / "tables")
    summary = write_layers(DatasetPaths(out))
    assert summary["skeletons"]["files"] < len(ds.cells) + 2  # shards, not one file per cell
    assert "sharding" in json.loads((out / "precomputed/skeletons/info").read_text())
    cv = _cloudvolume(out / "precomputed", tmp_path / "cv")
    for cid in ds.cells.cell_id:
        nodes = ds.skeleton_nodes(cid).sort_values("node_id")
        sk = cv.skeleton.get(int(cid))
        # cloud-volume applies the info transform: the dataset's nm into the layers' nominal nm
        nominal = nodes[["x", "y", "z"]].to_numpy() / np.asarray(NOMINAL_TO_EM)
        np.testing.assert_allclose(sk.vertices, nominal, rtol=1e-6)
        np.testing.assert_array_equal(sk.compartment, nodes["label"].to_numpy(np.float32))
        np.testing.assert_allclose(sk.radius, nodes["radius"].to_numpy(np.float32))
        edges = {tuple(e) for e in np.sort(sk.edges, axis=1)}
        child = nodes[nodes.parent >= 0]
        assert edges == {tuple(sorted(p)) for p in zip(child.node_id, child.parent)}
    assert [a["id"] for a in sk.extra_attributes] == [a["id"] for a in ATTRIBUTES]


def test_meshes_read_back_by_cloudvolume(ds, small_dataset, tmp_path):
    cv = _cloudvolume(small_dataset / "precomputed", tmp_path / "cv")
    info = json.loads((small_dataset / "precomputed/mitochondria/info").read_text())
    assert info["@type"] == "neuroglancer_multilod_draco" and "sharding" in info
    checked = 0
    for cid in ds.cells.cell_id[:3]:
        batch = ds.mito_meshes(cid)
        for i in range(0, batch.n, max(1, batch.n // 10)):
            v, f = batch.mesh(i)
            got = cv.mesh.get(int(batch.ids[i]))[int(batch.ids[i])]
            # cloud-volume applies the info's transform (EM nm -> nominal nm), as neuroglancer does
            nominal = v / np.asarray(NOMINAL_TO_EM)
            ref = trimesh.Trimesh(nominal, f, process=False)
            back = trimesh.Trimesh(got.vertices, got.faces, process=False)
            assert len(back.faces) == len(f)
            # 16-bit positions on the mesh's own box (well under a nanometre), decoded to float32
            extent = float(np.max(nominal.max(0) - nominal.min(0)))
            tol = extent / 65535 + 2 * np.finfo(np.float32).eps * np.abs(nominal).max()
            assert np.abs(np.sort(back.vertices, 0) - np.sort(nominal, 0)).max() <= tol
            assert back.volume == pytest.approx(ref.volume, rel=1e-3)
            checked += 1
    assert checked >= 10


def test_manifest_is_cloudvolumes():
    from cloudvolume.datasource.precomputed.mesh.multilod import MultiLevelPrecomputedMeshManifest

    rng = np.random.default_rng(3)
    v = rng.normal(size=(50, 3)) * 200 + 1e5
    frag, manifest = encode_mesh(v, rng.integers(0, 50, (90, 3)))
    shape, origin = np.maximum(v.max(0) - v.min(0), 1.0), v.min(0)
    ref = MultiLevelPrecomputedMeshManifest(
        segment_id=1, chunk_shape=shape.astype(np.float32), grid_origin=origin.astype(np.float32), num_lods=1,
        lod_scales=np.array([1.0], np.float32), vertex_offsets=np.zeros((1, 3), np.float32),
        num_fragments_per_lod=np.array([1], np.uint32), fragment_positions=[np.zeros((3, 1), np.uint32)],
        fragment_offsets=[np.array([len(frag)], np.uint32)],
    )  # fmt: skip
    assert manifest == ref.to_binary() == manifest_bytes(shape, origin, len(frag))


@pytest.mark.parametrize("encoding,offsets", [("gzip", False), ("raw", True)])
def test_shards_are_byte_identical_to_cloudvolumes(tmp_path, encoding, offsets):
    from cloudvolume.datasource.precomputed.sharding import synthesize_shard_files

    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(1, 2**62, 3000, dtype=np.int64)).astype(np.uint64)
    data = {int(k): rng.bytes(int(rng.integers(20, 60))) for k in keys}
    offs = {k: 8 for k in data} if offsets else None
    base = sharding_spec(len(data), data_encoding=encoding)
    spec = type(base)(type=base.type, preshift_bits=0, hash=base.hash, minishard_bits=4, shard_bits=3,
                      minishard_index_encoding="gzip", data_encoding=encoding)  # several shards of several minishards  # fmt: skip
    ref = synthesize_shard_files(spec, data, data_offset=offs)
    assert len(ref) > 1
    mine = {p.name: p.read_bytes() for p in write_objects(tmp_path, data, spec, data_offset=offs)}
    assert mine == ref


def _decode_block(blob: bytes, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    n = int(np.frombuffer(blob[:8], "<u8")[0])
    rec = np.frombuffer(blob[8 : 8 + n * dtype.itemsize], dtype)
    return rec, np.frombuffer(blob[8 + n * dtype.itemsize :], "<u8")


def test_annotation_layers_hold_every_point_with_its_properties(ds, small_dataset):
    root = small_dataset / "precomputed"
    syn = ds.synapses.drop_duplicates("synapse_id").set_index("synapse_id")
    info = json.loads((root / "synapses/info").read_text())
    dtype, _ = record_dtype(3, [Property(p["id"], p["type"]) for p in info["properties"]])
    seen = []
    for f in (root / "synapses/spatial0").iterdir():
        rec, ids = _decode_block(f.read_bytes(), dtype)
        assert len(rec) <= info["spatial"][0]["limit"]
        s = syn.loc[ids.astype(np.int64)]
        np.testing.assert_array_equal(rec["size"], s["size"].to_numpy(np.uint32))
        np.testing.assert_allclose(rec["geometry"] * np.array([3.58, 3.58, 40.0]), s[["x", "y", "z"]], rtol=1e-6)
        seen += ids.tolist()
    assert sorted(seen) == sorted(syn.index)
    # by id: the record, then the pre and the post partner
    sid = int(syn.index[len(syn) // 2])
    entry = (
        read_shard(root / "synapses/by_id", sid)
        if "sharding" in info["by_id"]
        else (root / "synapses/by_id" / str(sid)).read_bytes()
    )
    rec = np.frombuffer(entry[: dtype.itemsize], dtype)[0]
    rest = entry[dtype.itemsize :]
    assert int(rec["size"]) == int(syn.loc[sid, "size"])
    assert np.frombuffer(rest[:4], "<u4")[0] == 1 and int(np.frombuffer(rest[4:12], "<u8")[0]) == int(syn.loc[sid, "pre_root_id"])
    assert np.frombuffer(rest[12:16], "<u4")[0] == 1 and int(np.frombuffer(rest[16:24], "<u8")[0]) == int(
        syn.loc[sid, "post_root_id"]
    )
    # the centres: compartment as an enum of the dataset's codes
    cinfo = json.loads((root / "mito_centres/info").read_text())
    comp = next(p for p in cinfo["properties"] if p["id"] == "compartment")
    assert dict(zip(comp["enum_labels"], comp["enum_values"])) == CENTRE_COMPARTMENTS
    assert "Basal" in comp["enum_labels"]


def test_a_point_without_a_partner_gets_an_empty_relationship(tmp_path):
    layer = PointLayer(positions=np.array([[1.0, 2, 3], [4, 5, 6]]), ids=np.array([7, 8], np.uint64),
                       properties=[Property("size", "uint32")], values={"size": np.array([5, 6])},
                       relationships={"pre": np.array([0, 11], np.uint64)})  # fmt: skip
    write_points(tmp_path, layer)
    a, b = (tmp_path / "by_id/7").read_bytes(), (tmp_path / "by_id/8").read_bytes()
    assert len(a) == 16 + 4 and np.frombuffer(a[16:20], "<u4")[0] == 0
    assert len(b) == 16 + 12 and int(np.frombuffer(b[20:28], "<u8")[0]) == 11


def test_neuroglancers_annotation_writer_misplaces_a_uint32_after_a_float32(tmp_path):
    """Why the annotations have their own encoder: the client aligns uint32 to 4 bytes
    (src/annotation/index.ts), neuroglancer's Python writer to 3."""
    import neuroglancer
    from neuroglancer.write_annotations import AnnotationWriter

    props = [Property("volume", "float32"), Property("size", "uint32")]
    specs = [neuroglancer.AnnotationPropertySpec(id=p.id, type=p.type) for p in props]
    cs = neuroglancer.CoordinateSpace(names=["x", "y", "z"], units="nm", scales=[4, 4, 40])
    w = AnnotationWriter(cs, "point", properties=specs)
    w.add_point([1.0, 2.0, 3.0], volume=0.5, size=123456)
    w.write(tmp_path / "ng")
    client, _ = record_dtype(3, props)  # where the client reads each property
    ids_file = next((tmp_path / "ng/by_id").iterdir())
    as_client = np.frombuffer(ids_file.read_bytes()[: client.itemsize], client)[0]
    assert as_client["volume"] == np.float32(0.5)
    assert int(as_client["size"]) != 123456  # the bug: the viewer would show another number
    layer = PointLayer(np.array([[1.0, 2, 3]]), np.array([1], np.uint64), props,
                       {"volume": np.array([0.5]), "size": np.array([123456])})  # fmt: skip
    write_points(tmp_path / "ours", layer)
    ours = np.frombuffer((tmp_path / "ours/by_id/1").read_bytes()[: client.itemsize], client)[0]
    assert int(ours["size"]) == 123456 and ours["volume"] == np.float32(0.5)


def test_the_neuroglancer_command_rewrites_the_layers_and_the_manifest(small_dataset, tmp_path, capsys):
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "precomputed").rglob("*") if p.is_file()}
    shutil.rmtree(out / "precomputed")
    (out / "precomputed/skeletons").mkdir(parents=True)
    (out / "precomputed/skeletons/stale").write_bytes(b"from an earlier run")
    assert main(["neuroglancer", str(out)]) == 0
    assert "mitochondria" in capsys.readouterr().out
    after = {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "precomputed").rglob("*") if p.is_file()}
    assert after == before  # the standalone path writes the build's bytes; the stale file is gone
    assert verify_checksums(out, read_manifest(DatasetPaths(out))) == []


def test_the_neuroglancer_command_refuses_a_damaged_dataset(small_dataset, tmp_path, capsys):
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    with open(out / "synapse_filtered.csv", "a") as fh:
        fh.write("junk\n")
    assert main(["neuroglancer", str(out)]) == 1
    err = capsys.readouterr().err
    assert "synapse_filtered.csv" in err and "rebuild" in err


def test_publish_copies_every_layer_file_to_a_local_target(small_dataset, tmp_path, capsys):
    target = tmp_path / "bucket" / "l23"
    assert main(["publish", str(small_dataset), f"file://{target}"]) == 0
    assert "published" in capsys.readouterr().out
    src = small_dataset / "precomputed"
    mine = {p.relative_to(src).as_posix(): p.read_bytes() for p in src.rglob("*") if p.is_file()}
    theirs = {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    states = {k: v for k, v in theirs.items() if k.startswith("states/")}  # the explorer's link states, beside the layers
    assert {
        k: v for k, v in theirs.items() if k not in states
    } == mine  # a folder has no headers: nothing encoded, nothing renamed
    made = small_dataset / "states"
    assert states == {f"states/{p.name}": p.read_bytes() for p in made.glob("*.json") if not p.name.startswith(".")}


def test_publish_plan_on_a_bucket_leaves_ranged_and_draco_files_unencoded(small_dataset):
    from builder.store.precomputed.publish import upload_plan

    plan = {e["path"]: e for e in upload_plan(small_dataset / "precomputed", "gs://bucket/l23")}
    assert plan["skeletons/info"] == {"path": "skeletons/info", "content_type": "application/json", "compress": "gzip"}
    shards = [e for p, e in plan.items() if p.endswith(".shard")]
    assert shards and all(e["compress"] is None and e["content_type"] == "application/octet-stream" for e in shards)
    assert all(e["compress"] is None for p, e in plan.items() if p.startswith("mitochondria/") and not p.endswith("info"))
    assert any(e["compress"] == "gzip" for p, e in plan.items() if p.startswith("mito_centres/spatial0/"))


def test_publish_refuses_damaged_layers_and_unknown_destinations(small_dataset, tmp_path, capsys):
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    assert main(["publish", str(out), "http://example.invalid/x"]) != 0
    assert "gs://" in capsys.readouterr().err
    info = out / "precomputed/skeletons/info"
    info.write_text(info.read_text().replace("neuroglancer_skeletons", "neuroglancer_skeletonz"))
    assert main(["publish", str(out), f"file://{tmp_path / 'dest'}"]) != 0
    err = capsys.readouterr().err
    assert "precomputed/skeletons/info" in err and "python -m builder neuroglancer" in err
    assert not (tmp_path / "dest").exists()

"""Upload ``<dataset>/precomputed/`` with cloud-files, so that a link can point at it from anywhere.

Every file gets its content type (``application/json`` for ``info`` files, else
``application/octet-stream``). On a bucket (``gs://``, ``s3://``) the small files that are read
whole (``info``, segment properties, annotation grid cells, unsharded objects) are stored
gzip-encoded (``Content-Encoding: gzip``, which browsers undo); shard files are not, because the
viewer reads them in HTTP Range requests, and a byte range of a gzip-encoded object is not a
byte range of the data. On ``file://`` nothing is encoded: a folder has no headers to say so,
and cloud-files would add ``.gz`` to the names.
"""

from __future__ import annotations

import logging
from pathlib import Path

from builder.errors import BuilderError

log = logging.getLogger(__name__)
PROTOCOLS = ("gs://", "s3://", "file://")
#: Files read whole and worth compressing (JSON, annotation records); Draco fragments are
#: already compressed, shards are read by range.
_RAW_SUFFIXES = (".shard",)


def upload_plan(root: Path, destination: str) -> list[dict]:
    """The cloud-files ``puts`` entries for every file under ``root`` (``path``,
    ``content_type``, ``compress``; ``content`` is read when uploading)."""
    bucket = not destination.startswith("file://")
    plan = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or ".tmp-" in p.name:
            continue
        rel = p.relative_to(root).as_posix()
        is_json = p.name == "info"
        is_mesh_data = rel.startswith("mitochondria/") and not is_json
        compress = "gzip" if bucket and not p.name.endswith(_RAW_SUFFIXES) and not is_mesh_data else None
        plan.append({"path": rel, "content_type": "application/json" if is_json else "application/octet-stream",
                     "compress": compress})  # fmt: skip
    return plan


def publish(dataset: Path, destination: str, parallel: int = 1) -> tuple[int, int]:
    """Upload the layers of ``dataset`` to ``destination``; returns (files, bytes).

    Raises
    ------
    BuilderError
        The dataset has no layers, a layer file differs from its checksum in ``manifest.json``,
        or the destination is not one of :data:`PROTOCOLS`.
    """
    from cloudfiles import CloudFiles

    root = Path(dataset) / "precomputed"
    if not (root / "skeletons" / "info").is_file():
        raise BuilderError(f"{root}: no neuroglancer layers; write them with python -m builder neuroglancer {dataset}")
    if not destination.startswith(PROTOCOLS):
        raise BuilderError(f"{destination}: give a destination starting with {', '.join(PROTOCOLS)}")
    from builder.store.lock import folder_lock
    from builder.store.manifest import read_manifest, verify_checksums
    from builder.store.paths import DatasetPaths

    with folder_lock(Path(dataset), f"python -m builder publish {dataset}"):  # layers unchanged while they upload
        manifest = read_manifest(DatasetPaths(Path(dataset)))
        if manifest is None:
            raise BuilderError(f"{dataset}: no manifest.json, so the layers cannot be checked; rebuild the dataset")
        damaged = [p for p in verify_checksums(Path(dataset), manifest) if p.startswith("precomputed/")]
        if damaged:  # never share layers that are not the ones the build wrote
            raise BuilderError(f"{dataset}/{damaged[0]}; rewrite the layers with python -m builder neuroglancer {dataset}")
        plan = upload_plan(root, destination)
        files = {e["path"]: root / e["path"] for e in plan}
        states = state_plan(Path(dataset) / "states", destination)
        files.update({e["path"]: Path(dataset) / e["path"] for e in states})
        plan += states
        size = sum(f.stat().st_size for f in files.values())
        entries = ({**e, "content": files[e["path"]].read_bytes()} for e in plan)
        CloudFiles(destination.rstrip("/"), progress=True).puts(entries, total=len(plan), parallel=parallel)
        _record_published(Path(dataset) / "states", destination, [e["path"].split("/", 1)[1] for e in states])
        log.info("published %d files (%d bytes, %d link states) of %s to %s", len(plan), size, len(states), root, destination)
        return len(plan), size


def state_plan(folder: Path, destination: str) -> list[dict]:
    """The ``puts`` entries of the explorer's link states (``DATASET/states/<sha256>.json``),
    uploaded beside the layers (``DESTINATION/states/``) so that short links open anywhere."""
    bucket = not destination.startswith("file://")
    names = sorted(p.name for p in folder.glob("*.json") if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
    return [{"path": f"states/{n}", "content_type": "application/json", "compress": "gzip" if bucket else None} for n in names]


def _record_published(folder: Path, destination: str, names: list[str]) -> None:
    """Note which states are now at ``destination`` (``states/.published.json``): the explorer
    tells a user whose short link names a state not uploaded yet."""
    import json

    from builder.store.atomic import write_bytes

    if not names:
        return
    path = folder / ".published.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    record = record if isinstance(record, dict) else {}
    record[destination.rstrip("/")] = sorted(set(record.get(destination.rstrip("/"), [])) | set(names))
    write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())

"""``manifest.json``: what was built, from what, with which code, and the checksum of every file."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

from builder.config import FORMAT_VERSION
from builder.errors import DatasetError
from builder.schema import (
    ASTRO_FAR_UM,
    ASTRO_SOMATIC_UM,
    AXON_SPLIT_METHOD,
    COMPARTMENT_NAMES,
    EM_VOXEL_NM,
    INFERRED_SOMA_UM,
    LAYER_VOXEL_NM,
    MITO_VOXEL_NM,
    NOMINAL_TO_EM,
    PUBLISHED_DEFINITIONS,
    SCALINGS,
    UNITS,
    label_mapping,
)
from builder.store.atomic import sha256_file, write_bytes
from builder.store.paths import DatasetPaths

MANIFEST_VERSION = 1
#: Dataset format versions this code reads (``manifest.json`` ``parameters.format_version``):
#: the current one; older datasets lack tables and columns the readers need (CHANGELOG.md).
READABLE_FORMATS: tuple[str, ...] = (FORMAT_VERSION,)
_PACKAGES = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "h5py",
    "trimesh",
    "meshparty",
    "navis",
    "nglui",
    "cloud-volume",
    "DracoPy",
    "zmesh",
    "tqdm",
)
_NOT_CHECKSUMMED = {"manifest.json", "build_report.json"}
#: Folders written after the build by other commands (``python -m builder analyze``): not part
#: of the checksummed dataset, so that they never make a complete build look changed.
_DERIVED_DIRS = {"analysis", "states"}


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the output."""
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def dataset_files(root: Path) -> list[Path]:
    """Files that belong to the dataset (no work area, temporaries, manifest or report)."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or rel.parts[0].startswith(".") or p.name.startswith(".") or rel.parts[0] in _DERIVED_DIRS:
            continue
        if rel.as_posix() in _NOT_CHECKSUMMED:
            continue
        out.append(p)
    return out


def checksums(root: Path) -> dict[str, dict]:
    """``{relative path: {"sha256": ..., "bytes": ...}}`` for every dataset file."""
    return {p.relative_to(root).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in dataset_files(root)}


def release_space() -> dict:
    """The Phase 1 release's space: positions in nm at the EM resolution, and the scalings applied."""
    return {
        "output_space": "nm at the EM resolution, 3.58 x 3.58 x 40 nm per release voxel",
        "release_voxel_nm": list(EM_VOXEL_NM),
        "layer_declared_voxel_nm": list(LAYER_VOXEL_NM),
        "mesh_scaling_nominal_to_em": list(NOMINAL_TO_EM),
        "mito_voxel_nm": list(MITO_VOXEL_NM),
        "scalings_applied": dict(SCALINGS),
    }


def write_manifest(
    paths: DatasetPaths,
    *,
    source_name: str,
    synthetic: bool,
    source_labels: dict[int, str],
    parameters: dict,
    fingerprint: str,
    counts: dict,
    complete: bool,
    inferred_labels: dict | None = None,
    title: str | None = None,
    space: dict | None = None,
) -> dict:
    """Compute checksums and write ``manifest.json`` atomically (always the last file written).

    ``title`` and ``space`` are the source's own (a lab's volume: what it is and the voxel sizes
    its positions were converted from); by default the Phase 1 release's."""
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "dataset": title or "MICrONS Phase 1 layer 2/3 mitochondria dataset (L2/3 dataset)",
        "source": {"name": source_name, "synthetic": synthetic},
        "synthetic": synthetic,
        "parameters": parameters,
        "seed": parameters.get("demo", {}).get("seed"),
        "fingerprint": fingerprint,
        "complete": complete,
        "package_versions": package_versions(),
        "counts": counts,
        "units": {**UNITS, **(space if space is not None else release_space())},
        "label_mapping": {
            "dataset_codes": {str(k): v for k, v in COMPARTMENT_NAMES.items()},
            "source_codes": {str(k): v for k, v in source_labels.items()},
            "source_to_dataset": {str(k): v for k, v in label_mapping(source_labels).items()},
            "matched_by": "name",
            "astrocytes": (
                f"no source labels; mitochondria 'Somatic' within {ASTRO_SOMATIC_UM} um of the soma centre, "
                f"else 'Branch', 'far' beyond {ASTRO_FAR_UM} um; skeleton nodes 0 within "
                f"{ASTRO_SOMATIC_UM} um, else 5"
            ),
            "neurons_without_labels": (
                f"{AXON_SPLIT_METHOD}: nodes within {INFERRED_SOMA_UM} um of the soma 0, axon side 1, "
                "other side 4; 5 when the cell lacks input or output synapses"
            ),
            "inferred": inferred_labels or {},
        },
        "definitions": {
            "about": "each quantity as the published analysis computes it (MicronsBinder "
            "notebooks/vignette_analysis/mitochondria), with the function followed; docs/analysis.md",
            **PUBLISHED_DEFINITIONS,
        },
        "files": checksums(paths.root),
    }
    write_bytes(paths.manifest, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


def read_manifest(paths: DatasetPaths) -> dict | None:
    """The manifest, or None if absent, unreadable or not a JSON object."""
    try:
        manifest = json.loads(paths.manifest.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def check_format_version(manifest: dict, path: Path) -> None:
    """Raise :class:`DatasetError` unless the manifest's dataset format is one this code reads
    (:data:`READABLE_FORMATS`); the message gives the versions read and the fix."""
    params = manifest.get("parameters")
    version = params.get("format_version") if isinstance(params, dict) else None
    if version not in READABLE_FORMATS:
        raise DatasetError(
            f"{path}: dataset format version {version!r}; this code reads format "
            f"{', '.join(READABLE_FORMATS)} (CHANGELOG.md). Rebuild the dataset with this version of the builder "
            "(python -m builder build --out DIR)"
        )


def verify_checksums(root: Path, manifest: dict) -> list[str]:
    """Problems found comparing files on disk with the manifest (empty list when intact)."""
    problems = []
    listed = manifest.get("files", {})
    on_disk = {p.relative_to(root).as_posix() for p in dataset_files(root)}
    for rel in sorted(set(listed) - on_disk):
        problems.append(f"{rel}: listed in manifest.json but missing")
    for rel in sorted(on_disk - set(listed)):
        problems.append(f"{rel}: not listed in manifest.json")
    for rel in sorted(set(listed) & on_disk):
        if sha256_file(root / rel) != listed[rel]["sha256"]:
            problems.append(f"{rel}: sha256 differs from manifest.json (file changed or damaged)")
    return problems


def refresh_checksums(paths: DatasetPaths, rewritten: str) -> dict:
    """After a command rewrote the folder ``rewritten`` of a built dataset (``precomputed``),
    checksum the files again and rewrite the manifest; every other file must still match its
    old checksum (else :class:`ValueError` names the first that does not)."""
    manifest = read_manifest(paths)
    if manifest is None:
        raise ValueError(f"{paths.manifest}: missing, unreadable or not a JSON object; build the dataset first")
    others = [p for p in verify_checksums(paths.root, manifest) if not p.startswith(rewritten + "/")]
    if others:
        raise ValueError(f"{paths.root}: {others[0]}; rebuild the dataset (python -m builder build --out {paths.root})")
    manifest["files"] = checksums(paths.root)
    write_bytes(paths.manifest, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest

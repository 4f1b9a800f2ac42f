"""The command line of ``python -m builder``: its commands and options (argparse).

:mod:`builder.__main__` parses with :func:`parser` and runs the command.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from builder.clihelp import DefaultsFormatter

SOURCES = ("demo", "phase1", "volume")
#: Sources whose published files ``download`` fetches.
DOWNLOADABLE = ("phase1",)


class _StoreGiven(argparse.Action):
    """Store the value and note the option in ``namespace.given`` (to tell a typed value from the default)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        setattr(namespace, self.dest, values)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m builder`` (module docstring of :mod:`builder.__main__`)."""
    fmt = DefaultsFormatter
    p = argparse.ArgumentParser(
        prog="python -m builder",
        description="Build the MICrONS L2/3 mitochondria dataset. With no command (or only options), "
        "`python -m builder` generates the synthetic demo volume and builds data/demo: it is "
        "`python -m builder build`.",
        epilog="examples: python -m builder | python -m builder build --cells 450 | "
        "python -m builder build --source phase1 | python -m builder validate data/demo",
        formatter_class=fmt,
    )
    p.set_defaults(given=set())
    sub = p.add_subparsers(dest="command", metavar="{build,demo,download,validate,analyze,neuroglancer,publish}")

    _build_command(sub, fmt)
    _demo_command(sub, fmt)
    dl = sub.add_parser("download", help="download the published files of a real source", formatter_class=fmt)
    dl.add_argument("--source", choices=DOWNLOADABLE, default="phase1", help="data source")
    dl.add_argument("--raw-dir", type=Path, default=None, help="destination (default: data/raw/<source>)")
    _phase1(dl)
    v = sub.add_parser("validate", help="check a built dataset", formatter_class=fmt)
    v.add_argument("dataset", type=Path, help="dataset directory, e.g. data/demo")
    _analyze_parser(sub.add_parser(
        "analyze", help="the published statistics (Turner et al. 2022, Fig. 5) of a built dataset", formatter_class=fmt,
        description="Rerun MicronsBinder's mitochondria analysis on a built dataset: compartment quartiles and "
        "Mann-Whitney tests, per-bin mean and SD over filtered segments, the Fig. 5 regressions. Writes "
        "DATASET/analysis/<scope>/ (analysis.json, CSVs, PNG figures); docs/analysis.md.",
    ))  # fmt: skip
    ng = sub.add_parser(
        "neuroglancer", help="(re)write DATASET/precomputed/, the neuroglancer layers", formatter_class=fmt,
        description="Write the dataset as neuroglancer precomputed layers (skeletons coloured by compartment, "
        "mitochondrion meshes, synapse and mitochondrion points) and refresh the manifest; the build does this "
        "already. docs/neuroglancer.md.",
    )  # fmt: skip
    ng.add_argument("dataset", type=Path, help="dataset directory, e.g. data/demo")
    pub = sub.add_parser(
        "publish", help="upload DATASET/precomputed/ for sharing (gs://, s3://, file://)", formatter_class=fmt,
        description="Upload the layers with cloud-files (content types and encodings set per file) so that "
        "links made with `python -m explorer --layers-url URL` open anywhere. docs/neuroglancer.md.",
    )  # fmt: skip
    pub.add_argument("dataset", type=Path, help="dataset directory, e.g. data/demo")
    pub.add_argument("destination", help="gs://bucket/path, s3://bucket/path or file:///path")
    pub.add_argument("--parallel", type=int, default=1, help="upload processes (cloud-files; each uploads with threads)")
    return p


def _analyze_parser(a: argparse.ArgumentParser) -> None:
    from builder.compute.statistics import SegmentFilter

    d = SegmentFilter()
    a.add_argument("dataset", type=Path, help="dataset directory, e.g. data/demo")
    a.add_argument("--cell-type", default="pyramidal", help="pyramidal (published), inhibitory, astrocyte, or all")
    a.add_argument("--subtype", default=None, help="a cell_subtype within --cell-type, e.g. basket")
    a.add_argument("--cells", default=None, help="comma-separated cell ids, or a file with one id per line (overrides the type)")
    a.add_argument("--all-labels", action="store_true", help="include neurons whose labels were inferred from synapses")
    a.add_argument("--include-meshless", action="store_true", help="also compare mitochondria without a mesh")
    a.add_argument("--compartment", default=d.compartment, help="segments of this compartment")
    a.add_argument("--min-leaf-um", type=float, default=d.min_leaf_um, help="keep segments farther than this from a leaf")
    a.add_argument("--min-volume-um3", type=float, default=d.min_volume_um3, help="keep segments above this (frustum) volume")
    a.add_argument("--min-soma-um", type=float, default=d.min_soma_um, help="regressions use segments beyond this distance")
    a.add_argument("--min-segments", type=int, default=d.min_segments, help="show bins with more segments than this")
    a.add_argument("--out", type=Path, default=None, help="output folder (default: DATASET/analysis/<scope>)")
    a.add_argument("--no-figures", action="store_true", help="numbers and CSVs only")


def _common(sp: argparse.ArgumentParser) -> None:
    """Options of the commands that make the demo or build."""
    sp.add_argument("--seed", type=int, default=1, help="demo volume seed")
    sp.add_argument("--cells", type=int, default=40, action=_StoreGiven, help="demo volume cells (Phase 1 size: 450)")
    sp.add_argument("--raw-dir", type=Path, default=None, help="raw inputs (default: data/raw/<source>)")
    sp.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="local worker processes")
    sp.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _phase1(sp: argparse.ArgumentParser) -> None:
    """Options of the commands that read the Phase 1 release."""
    from builder.sources.phase1 import DEFAULT_BASE_URL, MESH_ENDPOINTS, NO_MESHES

    sp.add_argument("--base-url", default=DEFAULT_BASE_URL, help="records server or mirror")
    sp.add_argument("--offline", action="store_true", help="never download; list what is missing instead")
    sp.add_argument(
        "--mesh-source", default=None, metavar="URL|''|none",
        help="cloud-volume path of the mitochondria segmentation (default: the first of "
        f"{', '.join(MESH_ENDPOINTS)} that answers); '' = only meshes already cached in RAW/mito_meshes; "
        f"{NO_MESHES} = build without meshes (mesh measures empty)",
    )  # fmt: skip


def _build_command(sub, fmt: type) -> None:  # noqa: ANN001 - argparse's subparsers
    """``build``: the source, its inputs, the output and where the work runs."""
    b = sub.add_parser("build", help="build a dataset (the default command)", formatter_class=fmt)
    b.add_argument("--source", choices=SOURCES, default="demo", help="data source")
    _phase1(b)
    b.add_argument(
        "--volume", type=Path, default=None, metavar="VOLUME.toml",
        help="with --source volume: the description of a lab's volume (docs/volume.md)",
    )  # fmt: skip
    b.add_argument(
        "--scan-dir", type=Path, default=None, metavar="DIR",
        help="with --source volume: where the scan of the segmentations keeps its chunks (default: <TOML stem>.scan "
        "next to the VOLUME.toml)",
    )  # fmt: skip
    b.add_argument("--out", type=Path, default=None, help="dataset directory (default: data/<source>)")
    b.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:PORT|local",
        help="run the per-cell work on Dask: a scheduler address, or 'local' for a LocalCluster of --workers processes",
    )  # fmt: skip
    _common(b)


def _demo_command(sub, fmt: type) -> None:  # noqa: ANN001 - argparse's subparsers
    """``demo``: the demo in the published layout, or ``--as-volume`` as a lab's volume."""
    d = sub.add_parser("demo", help="only generate the synthetic demo volume", formatter_class=fmt)
    _common(d)
    d.add_argument(
        "--as-volume", type=Path, default=None, metavar="DIR",
        help="write the demo as a lab's volume instead (precomputed segmentations, meshes, skeletons, tables, "
        "VOLUME.toml; docs/volume.md)",
    )  # fmt: skip
    d.add_argument(
        "--volume-cells", default=None, metavar="N|ID,ID",
        help="with --as-volume: a demo of N cells (1-40), all written, or ids of the 40-cell demo separated by "
        "commas (default: 3)",
    )  # fmt: skip
    d.add_argument(
        "--resolution", default=None, metavar="X,Y,Z",
        help="with --as-volume: voxel size in nm, each side at least 4 (default: 16,16,40)",
    )  # fmt: skip
    d.add_argument(
        "--skeletons", default=None, choices=("precomputed", "swc", "h5"),
        help="with --as-volume: the form of the skeletons VOLUME.toml reads: the cell layer's precomputed skeletons "
        "(always written), or also a folder of SWC or MeshParty h5 files (default: precomputed)",
    )  # fmt: skip

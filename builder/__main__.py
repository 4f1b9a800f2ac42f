"""Command line of the builder.

``python -m builder``                     generate the demo volume and build ``data/demo``
``python -m builder build [options]``     the same, with options (``--cells 450``, ``--seed``...)
``python -m builder demo [options]``      only generate the demo volume in the published layout
``python -m builder download``            fetch the published Phase 1 files into ``data/raw/phase1``
``python -m builder build --source phase1`` download what is missing, then build ``data/phase1``
``python -m builder validate DIR``        check a built dataset
``python -m builder analyze DIR``         the published statistics of a built dataset -> DIR/analysis/
``python -m builder neuroglancer DIR``    (re)write DIR/precomputed/, the dataset as neuroglancer layers
``python -m builder publish DIR URL``     upload DIR/precomputed/ to gs://, s3:// or file:// for sharing

Exit codes: 0 complete, 3 partial (items skipped, see ``build_report.json``), 1 error, 2 usage.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from builder.clihelp import DefaultsFormatter
from builder.config import BuildConfig, DemoParams
from builder.errors import BuilderError, VolumeConfigError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
SOURCES = ("demo", "phase1", "volume")
#: Sources whose published files ``download`` fetches.
DOWNLOADABLE = ("phase1",)


class _StoreGiven(argparse.Action):
    """Store the value and note the option in ``namespace.given`` (to tell a typed value from the default)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        setattr(namespace, self.dest, values)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def _parser() -> argparse.ArgumentParser:
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

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--seed", type=int, default=1, help="demo volume seed")
        sp.add_argument("--cells", type=int, default=40, action=_StoreGiven, help="demo volume cells (Phase 1 size: 450)")
        sp.add_argument("--raw-dir", type=Path, default=None, help="raw inputs (default: data/raw/<source>)")
        sp.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="local worker processes")
        sp.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    def phase1(sp: argparse.ArgumentParser) -> None:
        from builder.sources.phase1 import DEFAULT_BASE_URL, MESH_ENDPOINTS, NO_MESHES

        sp.add_argument("--base-url", default=DEFAULT_BASE_URL, help="records server or mirror")
        sp.add_argument("--offline", action="store_true", help="never download; list what is missing instead")
        sp.add_argument(
            "--mesh-source", default=None, metavar="URL|''|none",
            help="cloud-volume path of the mitochondria segmentation (default: the first of "
            f"{', '.join(MESH_ENDPOINTS)} that answers); '' = only meshes already cached in RAW/mito_meshes; "
            f"{NO_MESHES} = build without meshes (mesh measures empty)",
        )  # fmt: skip

    b = sub.add_parser("build", help="build a dataset (the default command)", formatter_class=fmt)
    b.add_argument("--source", choices=SOURCES, default="demo", help="data source")
    phase1(b)
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
    common(b)
    d = sub.add_parser("demo", help="only generate the synthetic demo volume", formatter_class=fmt)
    common(d)
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
    dl = sub.add_parser("download", help="download the published files of a real source", formatter_class=fmt)
    dl.add_argument("--source", choices=DOWNLOADABLE, default="phase1", help="data source")
    dl.add_argument("--raw-dir", type=Path, default=None, help="destination (default: data/raw/<source>)")
    phase1(dl)
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


def missing_dependency_message(exc: ModuleNotFoundError) -> str:
    """One line that names the missing package and the fix (run in the project's environment)."""
    return (
        f"error: the Python package '{exc.name}' is not installed for {sys.executable}. Run the project's "
        "environment: `.venv/bin/python -m ...` or `source .venv/bin/activate` first (create it with `make install`), "
        "or install the project into this Python with `pip install -e .`"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    try:
        return _main(argv)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in ("builder", "explorer"):
            raise
        print(missing_dependency_message(exc), file=sys.stderr)
        return EXIT_ERROR


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["build", *argv]
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("numexpr").setLevel(logging.WARNING)
    try:
        if args.command == "validate":
            return _validate(args.dataset)
        if args.command == "download":
            return _download(args)
        if args.command == "analyze":
            return _analyze(args)
        if args.command == "neuroglancer":
            return _neuroglancer(args.dataset)
        if args.command == "publish":
            return _publish(args)
        if args.command == "demo" and (args.as_volume is not None or args.volume_cells or args.resolution or args.skeletons):
            return _demo_as_volume(args)
        if args.workers < 1:
            print("error: --workers must be at least 1", file=sys.stderr)
            return EXIT_USAGE
        usage = _volume_usage(args)
        if usage:
            print(f"error: {usage}", file=sys.stderr)
            return EXIT_USAGE
        try:
            demo = DemoParams(seed=args.seed, cells=args.cells)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return _build(args, demo)
    except VolumeConfigError as exc:  # the VOLUME.toml: a usage error, one line
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BuilderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # the file system or the network refused: a message, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}. Check the path, the free disk space, the permissions or the network, "
              "then rerun the same command", file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def _validate(dataset: Path) -> int:
    from builder.store.validate import validate_dataset

    problems = validate_dataset(dataset)
    for p in problems:
        print(p)
    print(f"{dataset}: {'valid' if not problems else f'{len(problems)} problem(s)'}")
    return EXIT_OK if not problems else EXIT_ERROR


def _cell_ids(spec: str | None) -> tuple[int, ...]:
    """``--cells``: ids separated by commas or spaces, or the path of a file with one per line."""
    if not spec:
        return ()
    text = spec
    if not any(ch in spec for ch in ", ") or Path(spec).suffix:  # could be a file name
        try:
            text = Path(spec).read_text() if Path(spec).is_file() else spec
        except OSError as exc:
            raise BuilderError(f"--cells {spec[:60]!r}: cannot read it as a file ({exc.strerror})") from exc
    try:
        ids = tuple(int(t) for t in text.replace(",", " ").split())
    except ValueError as exc:
        raise BuilderError(
            f"--cells {spec[:200]!r}: not a list of cell ids ({exc}); give ids separated by commas, or a file with one per line"
        ) from exc
    out_of_range = [i for i in ids if not 0 < i < 2**63]
    if out_of_range:
        raise BuilderError(f"--cells: {out_of_range[0]} is not a cell id (root ids are positive 64-bit integers)")
    return ids


def _analyze(args: argparse.Namespace) -> int:
    from builder.analysis import Scope, run_analysis, summary_text
    from builder.compute.statistics import SegmentFilter

    scope = Scope(
        cell_type=None if args.cell_type in ("all", "") else args.cell_type, subtype=args.subtype,
        cell_ids=_cell_ids(args.cells), labelled_only=not args.all_labels,
    )  # fmt: skip
    f = SegmentFilter(compartment=args.compartment, min_leaf_um=args.min_leaf_um, min_volume_um3=args.min_volume_um3,
                      min_soma_um=args.min_soma_um, min_segments=args.min_segments)  # fmt: skip
    _, out, summary = run_analysis(args.dataset, scope, f, args.include_meshless, args.out, figures=not args.no_figures)
    print(summary_text(summary, out))
    return EXIT_OK


def _demo_as_volume(args: argparse.Namespace) -> int:
    """``demo --as-volume``: every option is checked before any folder or lock is made."""
    from builder.sources.demo.as_volume_request import check_request

    if args.as_volume is None:
        print("error: --volume-cells, --resolution and --skeletons need --as-volume DIR (the plain demo has no voxels)",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    if "cells" in args.given:
        print("error: --cells sizes the plain demo; with --as-volume give --volume-cells N or ID,ID", file=sys.stderr)
        return EXIT_USAGE
    try:
        res, cells = check_request(args.resolution, args.volume_cells)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from builder.sources.demo.as_volume import summary_text, write_demo_as_volume

    summary = write_demo_as_volume(args.as_volume, res, cells, seed=args.seed, raw_dir=args.raw_dir,
                                   skeletons=args.skeletons or "precomputed")  # fmt: skip
    print(summary_text(summary))
    return EXIT_OK


def _neuroglancer(dataset: Path) -> int:
    from builder.store.precomputed import layers_text, rewrite_layers

    summary = rewrite_layers(dataset)
    print(layers_text(summary, dataset / "precomputed"))
    return EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    from builder.store.precomputed.publish import publish

    n, size = publish(args.dataset, args.destination, parallel=args.parallel)
    print(f"{n} files ({size / 1e6:.1f} MB) of {args.dataset / 'precomputed'} published to {args.destination}")
    return EXIT_OK


def _download(args: argparse.Namespace) -> int:
    from builder.sources.phase1 import ensure_phase1_files

    raw_dir = args.raw_dir or Path("data/raw") / args.source
    ensure_phase1_files(raw_dir, args.base_url, offline=args.offline)
    print(f"{args.source} files ready in {raw_dir}")
    return EXIT_OK


def _volume_usage(args: argparse.Namespace) -> str:
    """Why ``--source volume`` / ``--volume`` do not go together as given ('' when they do)."""
    source, volume = getattr(args, "source", "demo"), getattr(args, "volume", None)
    if source == "volume" and volume is None:
        return "--source volume needs --volume VOLUME.toml (docs/volume.md)"
    if volume is not None and source != "volume":
        return f"--volume is read only with --source volume (not --source {source})"
    if volume is not None and args.raw_dir is not None:
        return "--raw-dir is not used with --source volume: the VOLUME.toml names every input"
    if getattr(args, "scan_dir", None) is not None and source != "volume":
        return f"--scan-dir is read only with --source volume (not --source {source})"
    return ""


def _source(name: str, args: argparse.Namespace, demo: DemoParams, raw_dir: Path):
    """The source object called ``name`` (generating or downloading its files if needed)."""
    if name == "volume":
        from builder.sources.volume import VolumeSource

        scan_root = args.scan_dir.expanduser().resolve() if args.scan_dir is not None else None
        source = VolumeSource(args.volume.expanduser().resolve(), args.workers, args.scheduler, scan_root)
        source.config  # noqa: B018 - load and check the VOLUME.toml before anything else
        source.check_scan_dir()
        return source
    if name == "phase1":
        from builder.sources.phase1 import NO_MESHES, Phase1Source, choose_mesh_source, ensure_phase1_files

        ensure_phase1_files(raw_dir, args.base_url, offline=args.offline)
        requested = args.mesh_source
        if args.offline and requested != NO_MESHES:
            requested = ""  # offline: cached meshes only
        return Phase1Source(raw_dir, mesh_source=choose_mesh_source(requested))
    from builder.sources.demo import generate_demo_volume

    return generate_demo_volume(raw_dir, demo, workers=args.workers)


def _build(args: argparse.Namespace, demo: DemoParams) -> int:
    from builder.pipeline import build_dataset

    source_name = getattr(args, "source", "demo")
    raw_dir = args.raw_dir or Path("data/raw") / source_name
    if source_name == "volume":
        raw_dir = args.volume.expanduser().resolve().parent
    t0 = time.perf_counter()
    source = _source(source_name, args, demo, raw_dir)
    t1 = time.perf_counter()
    if args.command == "demo":
        print(f"demo volume ready in {raw_dir} ({t1 - t0:.1f} s)")
        return EXIT_OK
    out = args.out or Path("data") / source_name
    config = BuildConfig(
        source=source_name, raw_dir=raw_dir, out_dir=out, demo=demo, workers=args.workers, scheduler=args.scheduler,
        mesh_source=getattr(source, "mesh_source", ""), volume=str(getattr(source, "volume", "")),
    )  # fmt: skip
    result = build_dataset(config, source)
    t2 = time.perf_counter()
    c = result.counts
    state = "up to date" if result.up_to_date else ("complete" if result.complete else "PARTIAL")
    print(
        f"{out}: {state}; {c.get('cells', 0)} cells, {c.get('mitochondria', 0)} mitochondria, "
        f"{c.get('synapse_rows', 0)} synapse rows (inputs {t1 - t0:.1f} s, build {t2 - t1:.1f} s)"
    )
    n_meshless = c.get("mitochondria_without_mesh", 0)
    if n_meshless:
        print(f"  {n_meshless} mitochondria kept without mesh measures (reasons in {out / 'build_report.json'})")
    if not result.complete:
        print(
            f"  skipped {len(result.skipped_cells)} cell(s) and "
            f"{sum(1 for i in result.input_issues if i['dropped'])} input row(s); see {out / 'build_report.json'}"
        )
        return EXIT_PARTIAL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

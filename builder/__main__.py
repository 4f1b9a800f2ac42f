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
import sys
import time
from pathlib import Path

from builder.cli_parser import parser as _parser
from builder.config import BuildConfig, DemoParams
from builder.errors import BuilderError, VolumeConfigError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


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

"""The deterministic numbers of the README and docs, regenerated from the default demo.

Each number lives in a block of its page::

    <!-- numbers: demo-counts -->40 cells: ...<!-- /numbers -->

and this script writes or checks every block from a built default demo (``python -m builder``):

    python tools/doc_numbers.py            # check: exit 1 and the blocks that differ
    python tools/doc_numbers.py --write    # rewrite the blocks

``tests/test_doc_numbers.py`` runs the check on the suite's own default demo, so a number typed
into a block that the code no longer gives fails the suite. Timings are not here: they live in
docs/performance.md with their dates and commands.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/analysis.md")
BLOCK = re.compile(r"(<!-- numbers: (?P<name>[\w-]+) -->)(?P<body>.*?)(<!-- /numbers -->)", re.S)


def _mb(folder: Path, files: list[Path] | None = None) -> str:
    files = files if files is not None else [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return f"{sum(p.stat().st_size for p in files) / 1e6:.0f} MB"


def counts_block(dataset: Path, raw: Path) -> str:
    """Cells by type, mitochondria, synapse rows, and the folders' sizes."""
    from builder.store.manifest import dataset_files
    from builder.store.reader import Dataset

    ds = Dataset.open(dataset)
    c = ds.cells
    by = c["cell_type"].value_counts()
    n_sub = c.loc[c["cell_type"] == "inhibitory", "cell_subtype"].nunique()
    return (f"{len(c)} cells: {by.get('pyramidal', 0)} pyramidal, {by.get('inhibitory', 0)} inhibitory of {n_sub} subtypes, "
            f"{by.get('astrocyte', 0)} astrocytes; {len(ds.mitochondria):,} mitochondria, {len(ds.synapses):,} synapse rows; "
            f"the raw volume {_mb(raw)}, the dataset {_mb(dataset, dataset_files(dataset))}")  # fmt: skip


def _iv(row, col: str, fmt: str) -> str:
    return f"{row[col]:{fmt}} [{row[col + '_lo']:{fmt}}, {row[col + '_hi']:{fmt}}]"


def analysis_block(dataset: Path) -> str:
    """The demo's published statistics with their intervals beside the published values."""
    from builder.analysis import DEFAULT_SCOPE, PUBLISHED_RESULTS
    from builder.compute.statistics import COMPARTMENT_ORDER, published_analysis
    from builder.store.reader import Dataset

    ds = Dataset.open(dataset)
    r = published_analysis(ds.mitochondria, ds.segments, DEFAULT_SCOPE.select(ds))
    comp = r.compartments.set_index("compartment")
    reg = r.regressions.assign(key=lambda d: [k if k != "pearson+ols" else f"{x} -> {y}" for k, x, y in zip(d.kind, d.x, d.y)])
    pub, pr = PUBLISHED_RESULTS, PUBLISHED_RESULTS["regressions_beyond_60um"]
    seg = r.segments
    lines = [
        f"{len(r.cell_ids)} pyramidal cells, {len(seg):,} basal segments, {int(seg['for_regression'].sum()):,} beyond 60 um; "
        f"[95 % interval]: cluster bootstrap over the cells ({r.bootstrap.n_boot} resamples, seed {r.bootstrap.seed})",
        "",
        "| | demo [95 % interval over cells] | published (351 cells) |",
        "|---|---|---|",
    ]  # fmt: skip
    for c in COMPARTMENT_ORDER:
        row = comp.loc[c]
        lines.append(f"| median volume, {c} (um^3) | {_iv(row, 'volume_median', '.4f')} | {pub['median_volume_um3'][c]:.4f} |")
    for c in COMPARTMENT_ORDER:
        row = comp.loc[c]
        lines.append(f"| median MCI, {c} | {_iv(row, 'mci_median', '.2f')} | {pub['median_mci'][c]:.2f} |")
    for row in reg.to_dict("records"):
        ref = pr[row["key"]]
        lines.append(f"| {row['key']}: r; slope | {_iv(row, 'r', '.3f')}; {_iv(row, 'slope', '.4g')} | "
                     f"{ref['r']:.3f}; {ref['slope']:.4g} |")  # fmt: skip
    g = r.gradients[(r.gradients["measure"] == "linear_mito_coverage") & r.gradients["shown"]]
    lines.append(f"| linear mito coverage, shown bins | {g['mean'].min():.2f}-{g['mean'].max():.2f} | 0.69-0.9 |")
    return "\n".join(lines)


def blocks(dataset: Path, raw: Path) -> dict[str, str]:
    """Every block's text, by name."""
    return {"demo-counts": counts_block(dataset, raw), "demo-analysis": "\n" + analysis_block(dataset) + "\n"}


def differences(pages: dict[str, str], want: dict[str, str]) -> list[str]:
    """Blocks of ``pages`` (name -> text) whose body is not ``want``'s, and blocks missing."""
    found, out = set(), []
    for page, text in pages.items():
        for m in BLOCK.finditer(text):
            found.add(m["name"])
            if m["name"] not in want:
                out.append(f"{page}: block {m['name']!r} is not one this script makes")
            elif m["body"] != want[m["name"]]:
                out.append(f"{page}: block {m['name']!r} differs from what the code gives:\n{want[m['name']]}")
    out += [f"no page holds block {n!r}" for n in sorted(set(want) - found)]
    return out


def rewrite(text: str, want: dict[str, str]) -> str:
    return BLOCK.sub(lambda m: m.group(1) + want.get(m["name"], m["body"]) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO / "data" / "demo", help="the default demo, built")
    p.add_argument("--raw", type=Path, default=REPO / "data" / "raw" / "demo", help="its raw volume")
    p.add_argument("--write", action="store_true", help="rewrite the blocks instead of checking them")
    args = p.parse_args(argv)
    want = blocks(args.data, args.raw)
    pages = {name: (REPO / name).read_text() for name in PAGES}
    if args.write:
        for name, text in pages.items():
            (REPO / name).write_text(rewrite(text, want))
        return 0
    diff = differences(pages, want)
    print("\n".join(diff) if diff else "every number block is what the code gives")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())

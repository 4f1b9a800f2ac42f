"""Figures of ``python -m builder analyze`` (matplotlib, PNG): the published panels, redrawn.

``compartments.png``: box plots of volume (log scale) and MCI per compartment, whiskers at the
5th and 95th percentiles and no fliers (``lib/plot.py`` ``boxplot``: ``whis=(5, 95)``,
``fliersize=0``), in the compartment palette, with the published Mann-Whitney p and the
cell-level ratio of medians. ``gradients.png``: the mean over segments per 10-um bin, bins with
more than 10 segments (``plot_margin``), with a band that says what it is: the 95 % interval of
the mean over a cluster bootstrap of the cells (a mean of non-negative values stays
non-negative), or, with too few cells for that, the segments' interquartile range. The
published mean +- SD stays in ``gradients.csv`` and ``analysis.json``. ``regressions.png``: the
four scatter panels of ``distance_to_soma.ipynb`` with their OLS lines, r and slope with their
cell-level intervals.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from builder.compute.statistics import COMPARTMENT_ORDER, GRADIENT_MEASURES, REGRESSION_PAIRS, AnalysisResult, diameter_residual
from builder.display import label
from builder.schema import COMPARTMENT_COLORS
from builder.store.atomic import atomic_path

DPI = 110


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)


def write_figures(r: AnalysisResult, out: Path, title: str = "") -> list[Path]:
    """Write the three PNG figures into ``out``; returns their paths."""
    import matplotlib.pyplot as plt

    paths = []
    for name, fig in draw_figures(r, title).items():
        paths.append(out / f"{name}.png")
        _save(fig, paths[-1])
        plt.close(fig)
    return paths


def draw_figures(r: AnalysisResult, title: str = "") -> dict:
    """The three figures (matplotlib ``Figure`` by name: compartments, gradients, regressions)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    for name, draw in (("compartments", _compartments), ("gradients", _gradients), ("regressions", _regressions)):
        fig = draw(plt, r)
        fig.suptitle(title, fontsize=10)  # constrained layout keeps it clear of the panels
        out[name] = fig
    return out


def _few(r: AnalysisResult) -> bool:
    return len(r.cell_ids) < r.bootstrap.min_cells


def _compartments(plt, r: AnalysisResult):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    comps = [c for c in COMPARTMENT_ORDER if c in set(r.compartments["compartment"])]
    rows = r.compartments.set_index("compartment")
    for ax, prefix, measure, log in ((axes[0], "volume", "volume", True), (axes[1], "mci", "complexity index", False)):
        stats = [{"label": c, "q1": rows.at[c, f"{prefix}_q25"], "med": rows.at[c, f"{prefix}_median"],
                  "q3": rows.at[c, f"{prefix}_q75"], "whislo": rows.at[c, f"{prefix}_p05"],
                  "whishi": rows.at[c, f"{prefix}_p95"], "fliers": []} for c in comps]  # fmt: skip
        if stats:
            boxes = ax.bxp(stats, showfliers=False, patch_artist=True, medianprops={"color": "k"})
            for patch, c in zip(boxes["boxes"], comps):
                patch.set_facecolor(COMPARTMENT_COLORS[c])
                patch.set_alpha(0.8)
            ax.set_xticks(range(1, len(comps) + 1), [f"{c}\n{int(rows.at[c, 'n'])} mito" for c in comps], fontsize=8)
        if log:
            ax.set_yscale("log")
        ax.set_ylabel(label("volume_um3" if prefix == "volume" else "complexityindex"))
        t = r.tests[r.tests["measure"] == measure] if len(r.tests) else r.tests
        ax.set_title(_test_text(t, _few(r)), fontsize=7.5, loc="left")
    fig.supxlabel("boxes: quartiles and median; whiskers: 5th and 95th percentiles (as published)", fontsize=8)
    return fig


def _test_text(t, few: bool) -> str:
    """One line per consecutive pair: Mann-Whitney p (mitochondria as independent, as published)
    and the ratio of medians with its interval over cells."""
    if few or not len(t):
        return "too few cells for a test" if few else ""
    return "\n".join(
        f"{a}: Mann-Whitney p = {p:.2g}; ratio of medians {q:.2f} [{lo:.2f}, {hi:.2f}] over cells"
        for a, p, q, lo, hi in zip(t["alternative"], t["p"], t["ratio"], t["ratio_lo"], t["ratio_hi"])
    )


def _gradients(plt, r: AnalysisResult):
    measures = [m for m in GRADIENT_MEASURES if m in set(r.gradients["measure"])]
    ncol, few = 2, _few(r)
    nrow = max(1, int(np.ceil(len(measures) / ncol)))
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 2.8 * nrow + 0.6), squeeze=False, layout="constrained")
    color = COMPARTMENT_COLORS["Basal"]
    band = "interquartile range of the segments" if few else f"95 % interval of the mean, bootstrap over {len(r.cell_ids)} cells"
    for ax, m in zip(axes.ravel(), measures):
        g = r.gradients[(r.gradients["measure"] == m) & r.gradients["shown"]]
        x, y = g["bin_center_um"].to_numpy(), g["mean"].to_numpy()
        lo, hi = (g["q25"], g["q75"]) if few else (g["mean_lo"], g["mean_hi"])
        ax.fill_between(x, lo.to_numpy(), hi.to_numpy(), color=color, alpha=0.25, lw=0, label=band)
        ax.plot(x, y, "o-", color=color, ms=3, label="mean over segments")
        ax.set_ylabel("\n".join(textwrap.wrap(label(m), 32)), fontsize=8)  # long labels in two lines: no collision
        ax.set_xlabel(label("min_dist_to_soma_um") + ", 10-µm bins", fontsize=8)
        ax.set_ylim(bottom=0)
    for ax in axes.ravel()[len(measures) :]:
        ax.axis("off")
    if measures:  # one legend for all panels, below them: it hides no point
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def _regressions(plt, r: AnalysisResult):
    d = r.segments[r.segments["for_regression"]] if len(r.segments) else r.segments
    resid = diameter_residual(d)
    panels = [*REGRESSION_PAIRS, ("mito_volume_per_um", "residual")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 8.4), layout="constrained")
    color = COMPARTMENT_COLORS["Basal"]
    for ax, (xcol, ycol), fit in zip(axes.ravel(), panels, r.regressions.to_dict("records")):
        if ycol == "residual":
            x, y = d.loc[resid.index, xcol].to_numpy(), resid.to_numpy()
        else:
            x, y = d[xcol].to_numpy(), d[ycol].to_numpy()
        ax.scatter(x, y, s=4, alpha=0.4, color=color, rasterized=True, lw=0)
        if np.isfinite(fit["slope"]) and len(x):
            xs = np.linspace(np.nanmin(x), np.nanmax(x), 50)
            ax.plot(xs, fit["intercept"] + fit["slope"] * xs, color="k", lw=1.2)
        ax.set_title(_fit_text(fit, _few(r)), fontsize=8, loc="left")
        ax.set_xlabel(label(xcol), fontsize=8)
        ax.set_ylabel(label(ycol), fontsize=8)
    return fig


def _fit_text(fit: dict, few: bool) -> str:
    """r and slope with their cell-level intervals, n segments in n cells."""
    iv = "" if few else f" [{fit['r_lo']:.2f}, {fit['r_hi']:.2f}]"
    siv = "" if few else f" [{fit['slope_lo']:.3g}, {fit['slope_hi']:.3g}]"
    return (f"r = {fit['r']:.3f}{iv}, slope = {fit['slope']:.3g}{siv}\n"
            f"{int(fit['n'])} segments of {int(fit['n_cells'])} cells; [95 % interval over cells]")  # fmt: skip

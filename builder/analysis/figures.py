"""Figures of ``python -m builder analyze`` (matplotlib, PNG): the published panels, redrawn.

``compartments.png``: box plots of volume (log scale) and MCI per compartment, whiskers at the
5th and 95th percentiles and no fliers (``lib/plot.py`` ``boxplot``: ``whis=(5, 95)``,
``fliersize=0``), with the one-sided Mann-Whitney p-values. ``gradients.png``: mean +- SD over
segments per 10-um bin (``plot_margin``), bins with more than 10 segments. ``regressions.png``:
the four scatter panels of ``distance_to_soma.ipynb`` with their OLS lines and Pearson r.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from builder.compute.statistics import COMPARTMENT_ORDER, GRADIENT_MEASURES, REGRESSION_PAIRS, AnalysisResult, diameter_residual
from builder.store.atomic import atomic_path

LABELS = {
    "median_diameter_um": "median diameter (um)",
    "mito_volume_per_um": "mito volume / path length (um^2)",
    "synapse_density_per_um": "linear synapse density (1/um)",
    "linear_mito_coverage": "mito path length / path length",
    "frustum_synapse_density_per_um2": "areal synapse density, frustum (1/um^2)",
    "cylinder_synapse_density_per_um2": "cylinder synapse density (1/um^2)",
    "frustum_mito_volume_fraction": "mito volume fraction, frustum",
    "coverage_factor": "cable covered by >= 1 mito",
    "residual": "synapse density residual after diameter",
}


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def write_figures(r: AnalysisResult, out: Path, title: str = "") -> list[Path]:
    """Write the three PNG figures into ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [out / "compartments.png", out / "gradients.png", out / "regressions.png"]
    for path, draw in zip(paths, (_compartments, _gradients, _regressions)):
        fig = draw(plt, r)
        fig.suptitle(title, fontsize=10)
        _save(fig, path)
        plt.close(fig)
    return paths


def _compartments(plt, r: AnalysisResult):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    seg_tests = r.tests
    # boxes drawn from the percentiles the analysis computed (the numbers in compartments.csv)
    comps = [c for c in COMPARTMENT_ORDER if c in set(r.compartments["compartment"])]
    for ax, prefix, label, log in ((axes[0], "volume", "volume (um^3)", True), (axes[1], "mci", "complexity index", False)):
        stats = []
        for c in comps:
            row = r.compartments.set_index("compartment").loc[c]
            stats.append({"label": c, "q1": row[f"{prefix}_q25"], "med": row[f"{prefix}_median"], "q3": row[f"{prefix}_q75"],
                          "whislo": row[f"{prefix}_p05"], "whishi": row[f"{prefix}_p95"], "fliers": []})  # fmt: skip
        if stats:
            ax.bxp(stats, showfliers=False)
        if log:
            ax.set_yscale("log")
        ax.set_ylabel(label)
        measure = "volume" if prefix == "volume" else "complexity index"
        t = seg_tests[seg_tests["measure"] == measure] if len(seg_tests) else seg_tests
        text = "\n".join(f"{a}: p = {p:.2g}" for a, p in zip(t.get("alternative", []), t.get("p", [])))
        ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=8)
    axes[0].set_title("whiskers: 5th and 95th percentiles", fontsize=8)
    return fig


def _gradients(plt, r: AnalysisResult):
    measures = [m for m in GRADIENT_MEASURES if m in set(r.gradients["measure"])]
    ncol = 2
    nrow = max(1, int(np.ceil(len(measures) / ncol)))
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 3 * nrow), squeeze=False)
    for ax, m in zip(axes.ravel(), measures):
        g = r.gradients[(r.gradients["measure"] == m) & r.gradients["shown"]]
        x, y, sd = g["bin_center_um"].to_numpy(), g["mean"].to_numpy(), g["sd"].to_numpy()
        ax.fill_between(x, y - sd, y + sd, color="#bbbbbb")
        ax.plot(x, y, "o-", color="k", ms=3)
        ax.set_ylabel(LABELS.get(m, m), fontsize=8)
        ax.set_xlabel("distance to soma (um)", fontsize=8)
    for ax in axes.ravel()[len(measures) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _regressions(plt, r: AnalysisResult):
    d = r.segments[r.segments["for_regression"]] if len(r.segments) else r.segments
    resid = diameter_residual(d)
    panels = [*REGRESSION_PAIRS, ("mito_volume_per_um", "residual")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for ax, (xcol, ycol), (_, fit) in zip(axes.ravel(), panels, r.regressions.iterrows()):
        if ycol == "residual":
            x, y = d.loc[resid.index, xcol].to_numpy(), resid.to_numpy()
        else:
            x, y = d[xcol].to_numpy(), d[ycol].to_numpy()
        ax.scatter(x, y, s=4, alpha=0.4, color="k", rasterized=True)
        if np.isfinite(fit["slope"]) and len(x):
            xs = np.linspace(np.nanmin(x), np.nanmax(x), 50)
            ax.plot(xs, fit["intercept"] + fit["slope"] * xs, color="#d62728")
        ax.set_title(f"r = {fit['r']:.3f}, slope = {fit['slope']:.3g}, n = {int(fit['n'])}", fontsize=9)
        ax.set_xlabel(LABELS.get(xcol, xcol), fontsize=8)
        ax.set_ylabel(LABELS.get(ycol, ycol), fontsize=8)
    fig.tight_layout()
    return fig

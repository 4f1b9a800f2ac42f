"""The one colour scheme of the explorer (Okabe-Ito, colour-blind safe), used by every view."""

from __future__ import annotations

#: Compartment -> colour. Okabe-Ito hues; grey for the unassigned "Unknown".
COMPARTMENT_COLORS: dict[str, str] = {
    "Somatic": "#CC79A7",
    "Axonal": "#0072B2",
    "Basal": "#009E73",
    "Apical": "#E69F00",
    "Unknown dendritic": "#56B4E9",
    "Unknown": "#999999",
    "Branch": "#D55E00",
}
#: Skeleton label code -> compartment name (builder.schema codes).
LABEL_NAMES: dict[int, str] = {0: "Somatic", 1: "Axonal", 2: "Basal", 3: "Apical", 4: "Unknown dendritic", 5: "Unknown"}
CELL_TYPE_COLORS: dict[str, str] = {"pyramidal": "#0072B2", "inhibitory": "#D55E00", "astrocyte": "#009E73"}
#: Synapses: distinct colour *and* symbol for each role.
SYNAPSE_STYLE: dict[str, dict] = {
    "pre": {"color": "#000000", "symbol": "diamond", "name": "synapses out (pre)"},
    "post": {"color": "#F0E442", "symbol": "circle", "name": "synapses in (post)"},
    "autapse": {"color": "#FFFFFF", "symbol": "square", "name": "autapses"},
}
HIGHLIGHT_COLOR = "#000000"
COMPARTMENT_ORDER: tuple[str, ...] = tuple(COMPARTMENT_COLORS)

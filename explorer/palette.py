"""The one colour scheme of the explorer (Okabe-Ito, colour-blind safe), used by every view."""

from __future__ import annotations

from builder.schema import COMPARTMENT_COLORS as SCHEMA_COLORS


class FrozenDict(dict):
    """A dict that cannot be changed: module constants stay constant, and it still is a dict
    for libraries that check (``navis.plot2d(palette=...)``, seaborn)."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("explorer palettes are read-only; copy one with dict(...) to change it")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only


_ro = FrozenDict

#: Compartment -> colour: the builder's one palette (``builder.schema.COMPARTMENT_COLORS``), also
#: that of ``analyze``'s figures and the neuroglancer layers.
COMPARTMENT_COLORS = _ro(SCHEMA_COLORS)
#: Skeleton label code -> compartment name (builder.schema codes).
LABEL_NAMES = _ro({0: "Somatic", 1: "Axonal", 2: "Basal", 3: "Apical", 4: "Unknown dendritic", 5: "Unknown"})
CELL_TYPE_COLORS = _ro({"pyramidal": "#0072B2", "inhibitory": "#D55E00", "astrocyte": "#009E73"})
#: Synapses: distinct colour *and* symbol for each role.
SYNAPSE_STYLE = _ro(
    {
        "pre": _ro({"color": "#000000", "symbol": "diamond", "name": "synapses out (pre)"}),
        "post": _ro({"color": "#F0E442", "symbol": "circle", "name": "synapses in (post)"}),
        "autapse": _ro({"color": "#FFFFFF", "symbol": "square", "name": "autapses"}),
    }
)
HIGHLIGHT_COLOR = "#000000"
COMPARTMENT_ORDER: tuple[str, ...] = tuple(COMPARTMENT_COLORS)

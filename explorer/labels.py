"""Column -> label with unit, and the compartment order, for every view of the explorer.

One map for the explorer and ``python -m builder analyze``'s figures: :mod:`builder.display`
(whose units are the schema's); the order is the published tests' (Axonal < Somatic < Apical <
Basal), then the compartments the published comparison leaves out.
"""

from __future__ import annotations

from builder.compute.statistics import COMPARTMENT_ORDER as PUBLISHED_ORDER
from builder.display import COLUMNS, label
from builder.schema import COMPARTMENT_COLORS

#: Every compartment, in the order views list them.
COMPARTMENT_ORDER: tuple[str, ...] = PUBLISHED_ORDER + tuple(c for c in COMPARTMENT_COLORS if c not in PUBLISHED_ORDER)

__all__ = ["COLUMNS", "COMPARTMENT_ORDER", "label", "options"]


def options(columns: list[str] | tuple[str, ...]) -> list[dict]:
    """Dropdown options: the label (words and unit) shown, the column as the value."""
    return [{"label": label(c), "value": c} for c in columns]

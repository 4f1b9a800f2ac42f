"""No module-level mutable state in the explorer: constants are immutable, state lives in the
URL, dcc.Store or the per-app ExplorerData."""

from __future__ import annotations

import importlib
import pkgutil
import types

import explorer
from explorer.palette import FrozenDict

MUTABLE = (list, dict, set, bytearray)


def _mutable_inside(value, depth=0):
    if isinstance(value, FrozenDict):
        return any(_mutable_inside(v, depth + 1) for v in value.values()) if depth < 3 else False
    if isinstance(value, MUTABLE):
        return True
    if depth < 3 and isinstance(value, (tuple, frozenset)):
        return any(_mutable_inside(v, depth + 1) for v in value)
    if depth < 3 and isinstance(value, types.MappingProxyType):
        return any(_mutable_inside(v, depth + 1) for v in value.values())
    return False


def test_module_level_values_are_immutable():
    found = []
    for mod in pkgutil.walk_packages(explorer.__path__, "explorer."):
        m = importlib.import_module(mod.name)
        for name, value in vars(m).items():
            if name.startswith("__") or isinstance(value, (types.ModuleType, types.FunctionType, type)):
                continue
            if _mutable_inside(value):
                found.append(f"{mod.name}.{name}")
    assert found == []


def test_palettes_are_read_only_dicts():
    import pytest

    from explorer.palette import COMPARTMENT_COLORS, SYNAPSE_STYLE

    assert isinstance(COMPARTMENT_COLORS, dict) and dict(COMPARTMENT_COLORS)["Basal"] == "#009E73"
    for change in (lambda: COMPARTMENT_COLORS.update(Basal="red"), lambda: SYNAPSE_STYLE["pre"].__setitem__("color", "x")):
        with pytest.raises(TypeError, match="read-only"):
            change()

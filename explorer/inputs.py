"""Browser values are untrusted: coerce each callback argument to the shape its code expects.

A value of the wrong type becomes the empty value of the right type (so the page shows its
"nothing selected" state instead of the server failing), strings and lists are capped.
"""

from __future__ import annotations

MAX_TEXT = 2000
MAX_ITEMS = 200
MAX_POINTS_IN = 50_000


def as_str(value: object, max_len: int = MAX_TEXT) -> str:
    """``value`` if it is a string (cut to ``max_len``), else ``""``."""
    return value[:max_len] if isinstance(value, str) else ""


def as_opt_str(value: object, max_len: int = MAX_TEXT) -> str | None:
    """Like :func:`as_str`, but None for anything that is not a non-empty string."""
    s = as_str(value, max_len)
    return s or None


def as_str_list(value: object, max_items: int = MAX_ITEMS) -> list[str]:
    """The strings of a list (at most ``max_items``); [] for anything else."""
    if not isinstance(value, list):
        return []
    return [v[:MAX_TEXT] for v in value[:max_items] if isinstance(v, str)]


def as_dict(value: object) -> dict:
    """``value`` if it is a dict, else ``{}``."""
    return value if isinstance(value, dict) else {}


def as_records(value: object, max_items: int = 100_000) -> list[dict]:
    """The dicts of a list (table rows, plotly points), at most ``max_items``."""
    if not isinstance(value, list):
        return []
    return [v for v in value[:max_items] if isinstance(v, dict)]


def as_event(value: object) -> dict:
    """A plotly selectedData / clickData event reduced to ``{"points": [dict, ...]}``."""
    return {"points": as_records(as_dict(value).get("points"), MAX_POINTS_IN)}


#: Largest request body accepted (bytes); a box selection of 50 000 points is about 5 MB.
MAX_BODY = 20 * 1024 * 1024


def _is_spec(item: object) -> bool:
    """A Dash ``{id, property}`` (a component id is a string, or a dict for pattern-matching ids),
    or the list of them of a pattern-matching ``ALL``."""
    if isinstance(item, list):
        return all(isinstance(i, dict) and _is_spec(i) for i in item)
    return isinstance(item, dict) and isinstance(item.get("id"), (str, dict)) and isinstance(item.get("property"), str)


def callback_request_problem(body: object, known_outputs: set[str]) -> str:
    """Why a ``/_dash-update-component`` body is not a callback request of this app ("" if it is).

    Checks only the envelope (Dash's own protocol: ``output`` a known callback, ``outputs`` its
    ``{id, property}`` (a list of them for a multi-output key ``..a.b...c.d..``), ``inputs`` and
    ``state`` lists of ``{id, property, value}``, ``changedPropIds`` strings); the values inside
    are coerced by the callbacks themselves.
    """
    if not isinstance(body, dict):
        return "the request body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in known_outputs:  # a list or dict is unhashable
        return "unknown callback output"
    for key in ("inputs", "state"):
        items = body.get(key, [])
        if not isinstance(items, list) or not all(_is_spec(i) for i in items):  # a missing value is undefined in JS
            return f"'{key}' must be a list of {{id, property, value}}"
    outputs = body.get("outputs")
    multi = output.startswith("..")
    specs = outputs if isinstance(outputs, list) else [outputs]
    n_out = len(output.strip(".").split("...")) if multi else 1
    if isinstance(outputs, list) != multi or len(specs) != n_out or not all(_is_spec(o) for o in specs):
        return "'outputs' must be the callback's outputs, each an {id, property}"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' must be a list of strings"
    return ""

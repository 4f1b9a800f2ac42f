"""Bodies of Dash callback requests built from the app's own ``/_dash-dependencies``.

Benchmarks and the load test post to ``/_dash-update-component`` as the browser does. They find
a callback by its first inputs and one of its outputs and fill every other input and state with
``None``, so that a callback that gains an input or an output keeps working here instead of
answering 500 to a body written by hand.
"""

from __future__ import annotations


def outputs_of(key: str) -> dict | list[dict]:
    """The ``outputs`` field for a callback's output key (one output, or ``..a.b...c.d..``)."""
    if not key.startswith(".."):
        return dict(zip(("id", "property"), key.split(".", 1)))
    return [dict(zip(("id", "property"), p.split(".", 1))) for p in key.strip(".").split("...")]


def find_callback(deps: list[dict], inputs: tuple[str, ...], output: str) -> dict:
    """The callback whose inputs start with ``inputs`` (``id.property``) and whose outputs include ``output``."""
    for d in deps:
        names = tuple(f"{i['id']}.{i['property']}" for i in d["inputs"])
        if names[: len(inputs)] == inputs and output in d["output"]:
            return d
    raise KeyError(f"no callback with inputs {inputs} and output {output}")


def callback_body(deps: list[dict], inputs: tuple[str, ...], values: list, output: str, state: dict | None = None) -> dict:
    """Request body of the callback :func:`find_callback` finds, its first inputs set to ``values``.

    Parameters
    ----------
    deps : list of dict
        The app's ``/_dash-dependencies``.
    inputs : tuple of str
        The callback's first inputs, ``"id.property"``; the first is the one that changed.
    values : list
        Values of those inputs; the callback's other inputs are sent as ``None``.
    output : str
        One of the callback's outputs, ``"id.property"``.
    state : dict, optional
        ``{component id: value}`` for the callback's states (others ``None``).
    """
    d = find_callback(deps, inputs, output)
    vals = list(values) + [None] * (len(d["inputs"]) - len(values))
    return {
        "output": d["output"],
        "outputs": outputs_of(d["output"]),
        "inputs": [{**i, "value": v} for i, v in zip(d["inputs"], vals)],
        "changedPropIds": [inputs[0]],
        "state": [{**s, "value": (state or {}).get(s["id"])} for s in d["state"]],
    }

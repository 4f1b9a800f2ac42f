"""Edit raw CSV tables as text, field by field: a pandas round trip would rewrite every id of a
column with a blank through float, which is the very damage the tests must control."""

from __future__ import annotations

from pathlib import Path


def set_field(path: Path, line: int, column: str, value: str) -> str:
    """Set ``column`` of ``line`` (1 is the header) of the CSV at ``path`` to the text ``value``;
    return the first field of that line (the row's id). Other bytes are left exactly as they were."""
    text = Path(path).read_bytes().decode()
    lines = text.split("\n")
    col = lines[0].rstrip("\r").split(",").index(column)
    fields = lines[line - 1].split(",")
    first = fields[0]
    fields[col] = value
    lines[line - 1] = ",".join(fields)
    Path(path).write_bytes("\n".join(lines).encode())
    return first

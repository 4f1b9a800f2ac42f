"""The dataset's files that a server may hand out: the neuroglancer layers (``precomputed/``)
and the link states (``states/``), found safely. Part of the reader (:mod:`builder.store.reader`):
the explorer reaches every file of a dataset through it."""

from __future__ import annotations

from pathlib import Path

from werkzeug.security import safe_join

#: Layers a dataset can have (``python -m builder neuroglancer``).
LAYER_NAMES: tuple[str, ...] = ("skeletons", "mitochondria", "synapses", "mito_centres")
#: Folders of a dataset whose files may be served.
SERVED = ("precomputed", "states")


def layer_names(root: Path | str) -> frozenset[str]:
    """The layers the dataset at ``root`` has (those with an ``info`` file)."""
    folder = Path(root) / "precomputed"
    return frozenset(n for n in LAYER_NAMES if (folder / n / "info").is_file())


def served_file(root: Path | str, folder: str, subpath: str) -> Path | None:
    """The file ``folder/subpath`` of the dataset at ``root`` that a server may hand out, or None.

    Only a regular file whose real path (symbolic links resolved) lies inside the dataset's
    ``folder`` (one of :data:`SERVED`): a link to a file of the folder is served, a link (or a
    linked folder) leading out of it is not, nor a file being written (``.tmp-``), nor a name
    the file system refuses.
    """
    if folder not in SERVED or len(subpath) > 512:  # layer paths are short
        return None
    base = (Path(root) / folder).resolve()
    full = safe_join(str(base), subpath)
    if full is None or ".tmp-" in Path(full).name:
        return None
    try:
        real = Path(full).resolve(strict=True)
        ok = real.is_relative_to(base) and real.is_file() and ".tmp-" not in real.name
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, too long, NUL
        return None
    return real if ok else None

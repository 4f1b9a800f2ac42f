"""Skeletons of a lab's volume from a folder of SWC or MeshParty h5 files (docs/volume.md).

``[skeletons] swc = "folder"`` reads ``<cell_id>.swc``: vertex i is the i-th node line of the file;
positions and radii are in the folder's ``position_unit`` (converted by :class:`Positions`); the
labels are the type column mapped by ``[skeletons.swc_types]`` (``labels = "swc_type"``) or
inferred (``infer``). Parent -1 marks the file's root; the edges join each other node to its
parent, in vertex indices.

``[skeletons] meshparty_h5 = "folder"`` reads ``<cell_id>.h5`` with
:func:`meshparty.skeleton_io.read_skeleton_h5` (vertex order kept): vertices in nm, as MeshParty
stores skeletons made from meshes in nm; the radius is the ``radius`` vertex property when there is
one; the labels a vertex property (``labels = "attribute"``) mapped by ``[skeletons.attribute_codes]``.

For every form the pipeline's root is the vertex nearest the soma point (:class:`SkeletonInput`
takes undirected edges and orients the tree from it). A file that is missing or refused makes a
:class:`CellInputError` naming the file (and for SWC the line) and the reason: that cell is skipped
and reported, the others are built.

SWC is parsed here, not with ``navis.read_swc``: navis 1.12 reads coordinates as float32 unless
told otherwise, keeps a non-numeric value as a text column, accepts a repeated node id and a parent
that is no node, stops on a missing value or a short line with a pandas error that names no line,
and reads one delimiter only (tabs fail). A lab's file is refused here with its line and reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.errors import CellInputError
from builder.schema import Compartment
from builder.sources.base import SkeletonInput
from builder.sources.volume_config import SkeletonsConfig

log = logging.getLogger(__name__)
SWC_FIELDS = ("id", "type", "x", "y", "z", "radius", "parent")


def map_codes(raw: np.ndarray, codes: Mapping[int, int], cell_id: int) -> np.ndarray:
    """The source's label values (n,) -> the project's codes (n,) uint8; a value ``codes`` does not
    name becomes Unknown (5), with a warning."""
    keys = np.array(sorted(codes), np.int64)
    vals = np.array([codes[k] for k in keys], np.uint8)
    raw = raw.astype(np.int64)
    i = np.clip(np.searchsorted(keys, raw), 0, max(len(keys) - 1, 0))
    known = (keys[i] == raw) if len(keys) else np.zeros(len(raw), bool)
    if not known.all():
        log.warning("cell %d: %d skeleton vertices carry a label not in the code table: Unknown", cell_id, int((~known).sum()))
    return np.where(known, vals[i] if len(keys) else 0, int(Compartment.UNKNOWN)).astype(np.uint8)


def nearest_vertex(vertices: np.ndarray, point: np.ndarray) -> int:
    """Index of the vertex nearest ``point`` (the soma): the pipeline's root."""
    return int(np.argmin(((np.asarray(vertices, np.float64) - point) ** 2).sum(axis=1)))


def folder_stamp(folder: Path) -> str:
    """What identifies a skeleton folder's contents: every file's name, size and modification time."""
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class SwcNodes:
    """The node lines of an SWC file, in file order: ids, types, positions (n, 3) and radii in the
    file's unit, parent ids (-1 at the root) and each node's line number (1-based)."""

    ids: np.ndarray
    types: np.ndarray
    xyz: np.ndarray
    radius: np.ndarray
    parent: np.ndarray
    lines: np.ndarray

    def edges(self) -> np.ndarray:
        """``(child, parent)`` vertex index pairs, shape (n - roots, 2)."""
        order = np.argsort(self.ids, kind="stable")
        child = np.flatnonzero(self.parent >= 0)
        parent = order[np.searchsorted(self.ids, self.parent[child], sorter=order)]
        return np.column_stack([child, parent]).astype(np.int64)


def _number(tok: str, name: str, integer: bool) -> float | int:
    """One field of a node line (ValueError with the reason when it is not one)."""
    try:
        v = float(tok)
    except ValueError:
        raise ValueError(f"{name} {tok!r} is not a number") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} {tok!r} is not finite")
    if integer:
        if not v.is_integer():
            raise ValueError(f"{name} {tok!r} is not an integer")
        i = int(tok) if tok.lstrip("+-").isdigit() else int(v)  # exact for large ids
        if not -(2**63) <= i < 2**63:
            raise ValueError(f"{name} {tok!r} is outside int64")
        return i
    return v


def _node_line(line: str) -> tuple | None:
    """The 7 fields of a node line, None for a blank or comment line (ValueError with the reason)."""
    s = line.split("#", 1)[0].strip()
    if not s:
        return None
    f = s.split()
    if len(f) != len(SWC_FIELDS):
        raise ValueError(f"{len(f)} fields; an SWC node line has 7: {' '.join(SWC_FIELDS)}")
    return tuple(_number(t, n, n in ("id", "type", "parent")) for t, n in zip(f, SWC_FIELDS, strict=True))


def parse_swc(path: Path, cell_id: int) -> SwcNodes:
    """The nodes of an SWC file, checked: :class:`CellInputError` naming the file, the line and the
    reason for a line that is not 7 numbers, a negative id or radius, a repeated id, a parent that
    is no node (or the node itself), and a file with no node or not exactly one root."""

    def bad(line: int | None, why: str) -> CellInputError:
        return CellInputError(cell_id, f"{path.name}{f' line {line}' if line else ''}: {why}", path)

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CellInputError(cell_id, f"no SWC file {path.name} in {path.parent}", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise bad(None, f"unreadable ({exc})") from exc
    rows, lines = [], []
    for no, line in enumerate(text.splitlines(), 1):
        try:
            row = _node_line(line)
        except ValueError as exc:
            raise bad(no, str(exc)) from None
        if row is not None:
            rows.append(row)
            lines.append(no)
    if not rows:
        raise bad(None, "no node lines (every line is blank or a comment)")
    a = np.array(rows, dtype=object)
    nodes = SwcNodes(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2:5].astype(np.float64),
                     a[:, 5].astype(np.float64), a[:, 6].astype(np.int64), np.asarray(lines))  # fmt: skip
    _check_nodes(nodes, bad)
    return nodes


def _check_nodes(n: SwcNodes, bad: Callable[[int | None, str], CellInputError]) -> None:
    """Raise ``bad(line, why)`` at the first line breaking the tree's rules (see :func:`parse_swc`)."""
    first = [(np.flatnonzero(n.ids < 0), "negative id {id}"), (np.flatnonzero(n.radius < 0), "negative radius {r:g}"),
             (np.flatnonzero(n.parent < -1), "parent {p}: -1 marks the root, any other parent is a node id"),
             (np.flatnonzero(n.parent == n.ids), "node {id} is its own parent")]  # fmt: skip
    for hit, why in first:
        if len(hit):
            i = hit[0]
            raise bad(int(n.lines[i]), why.format(id=n.ids[i], r=n.radius[i], p=n.parent[i]))
    order = np.argsort(n.ids, kind="stable")
    dup = np.flatnonzero(np.diff(n.ids[order]) == 0)
    if len(dup):
        i, j = sorted(order[[dup[0], dup[0] + 1]])
        raise bad(int(n.lines[j]), f"node id {n.ids[j]} repeats line {n.lines[i]}")
    pos = np.searchsorted(n.ids, n.parent, sorter=order).clip(0, len(order) - 1)
    orphan = np.flatnonzero((n.parent >= 0) & (n.ids[order[pos]] != n.parent))
    if len(orphan):
        raise bad(int(n.lines[orphan[0]]), f"parent {n.parent[orphan[0]]} is no node's id")
    roots = np.flatnonzero(n.parent == -1)
    if len(roots) != 1:
        where = f"lines {', '.join(str(n.lines[r]) for r in roots[:3])}" if len(roots) else "none"
        raise bad(None, f"{len(roots)} root nodes (parent -1; {where}): a skeleton is one tree")


def read_swc_skeleton(cfg: SkeletonsConfig, cell_id: int, soma_nm: np.ndarray) -> SkeletonInput:
    """``<cell_id>.swc`` of the ``skeletons.swc`` folder, in nm, labels mapped (module docstring)."""
    assert cfg.swc is not None
    path = cfg.swc / f"{cell_id}.swc"
    nodes = parse_swc(path, cell_id)
    vertices = cfg.positions.to_nm(nodes.xyz)
    labels = map_codes(nodes.types, cfg.codes, cell_id) if cfg.labels == "swc_type" else None
    return SkeletonInput(vertices=vertices, edges=nodes.edges(), root=nearest_vertex(vertices, soma_nm),
                         radius=cfg.positions.lengths_to_nm(nodes.radius), labels=labels, path=str(path))  # fmt: skip


def read_h5_skeleton(cfg: SkeletonsConfig, cell_id: int, soma_nm: np.ndarray) -> SkeletonInput:
    """``<cell_id>.h5`` of the ``skeletons.meshparty_h5`` folder (nm), radius and labels from its
    vertex properties (module docstring)."""
    assert cfg.meshparty_h5 is not None
    path = cfg.meshparty_h5 / f"{cell_id}.h5"
    if not path.is_file():
        raise CellInputError(cell_id, f"no MeshParty file {path.name} in {path.parent}", path)
    from meshparty import skeleton_io

    try:
        sk = skeleton_io.read_skeleton_h5(str(path))
        vertices = np.asarray(sk.vertices, np.float64).reshape(-1, 3)
        edges = np.asarray(sk.edges, np.int64).reshape(-1, 2)
        props = dict(sk.vertex_properties or {})
    except Exception as exc:  # h5py, json and meshparty raise many types for a damaged file
        raise CellInputError(cell_id, f"{path.name}: unreadable MeshParty h5 ({type(exc).__name__}: {exc})", path) from exc
    if len(vertices) == 0:
        raise CellInputError(cell_id, f"{path.name}: empty skeleton", path)

    def prop(name: str) -> np.ndarray:
        v = np.asarray(props[name]).reshape(-1)
        if len(v) != len(vertices):
            raise CellInputError(cell_id, f"{path.name}: vertex property {name!r} has {len(v)} values for "
                                 f"{len(vertices)} vertices", path)  # fmt: skip
        return v

    labels = None
    if cfg.labels == "attribute":
        if cfg.attribute not in props:
            have = ", ".join(sorted(props)) or "none"
            raise CellInputError(cell_id, f"{path.name}: no vertex property {cfg.attribute!r} (it has: {have})", path)
        labels = map_codes(prop(str(cfg.attribute)), cfg.codes, cell_id)
    radius = prop("radius").astype(np.float64) if "radius" in props else None
    return SkeletonInput(vertices=vertices, edges=edges, root=nearest_vertex(vertices, soma_nm), radius=radius,
                         labels=labels, path=str(path))  # fmt: skip


def read_folder_skeleton(cfg: SkeletonsConfig, cell_id: int, soma_nm: np.ndarray) -> SkeletonInput:
    """The cell's skeleton from the SWC or MeshParty h5 folder the configuration names."""
    reader = read_swc_skeleton if cfg.swc is not None else read_h5_skeleton
    return reader(cfg, int(cell_id), np.asarray(soma_nm, np.float64))

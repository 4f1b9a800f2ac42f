"""VOLUME.toml: the description of a lab's volume, checked key by key before any work (docs/volume.md).

A lab's volume is described by one TOML file (``format = 1``) with four tables: ``[cells]``
(cell segmentation, soma points, cells to build), ``[mitochondria]`` (a segmentation or an
existing table, optional meshes), ``[skeletons]`` (a precomputed layer, a folder of SWC files or
one of MeshParty h5 files, and where the compartment labels come from) and ``[synapses]`` (a table and its column mapping).
:func:`load_volume_config` reads it with :mod:`tomllib` into frozen dataclasses; every problem
is a :class:`~builder.errors.VolumeConfigError` naming the file, the key and the fix. Unknown
keys are refused by name (a typo is never silently ignored); relative paths are resolved
against the TOML's folder; local inputs must exist.

Units are stated once per input and converted in one place, :meth:`Positions.to_nm`: a table's
positions are ``nm``, ``um`` or ``voxels`` at ``position_resolution_nm``; layers state their
voxel size as ``resolution_nm`` (checked against a local layer's ``info``).
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from builder.errors import VolumeConfigError
from builder.schema import COMPARTMENT_NAMES, NAME_TO_CODE
from builder.sources.volume_tables import ID_COLUMNS, TABLE_SUFFIXES, Positions, TableSpec, Triple, table_columns

FORMAT_VERSION = 1
SCHEMES = ("file://", "gs://", "s3://", "http://", "https://", "precomputed://")
UNITS = ("nm", "um", "voxels")
#: Project column name -> required?, for each table; ids are read as int64, never through float.
SOMA_COLUMNS = MappingProxyType({"cell_id": True, "x": True, "y": True, "z": True, "cell_type": False, "cell_subtype": False})
SYNAPSE_COLUMNS = MappingProxyType(
    {"synapse_id": True, "pre_root_id": True, "post_root_id": True, "x": True, "y": True, "z": True, "size": False}
)
MITO_COLUMNS = MappingProxyType({"mito_id": True, "cell_id": True, "x": True, "y": True, "z": True, "mito_vx": False})
LABEL_SOURCES = ("attribute", "swc_type", "infer")
#: The keys of ``[skeletons]`` naming where the skeletons are: exactly one is given.
SKELETON_FORMS = ("precomputed", "swc", "meshparty_h5")
#: SWC's standard types (1 soma, 2 axon, 3 basal, 4 apical) in our codes; other types -> Unknown.
DEFAULT_SWC_TYPES = MappingProxyType({1: 0, 2: 1, 3: 2, 4: 3})


@dataclass(frozen=True)
class CellsConfig:
    """``[cells]``: the cell segmentation, its voxel size, the soma points and the cells to build (None = all)."""

    segmentation: str
    resolution_nm: Triple
    somata: TableSpec
    build: tuple[int, ...] | None


@dataclass(frozen=True)
class MitochondriaConfig:
    """``[mitochondria]``: a segmentation (with ``resolution_nm``) or a table, exactly one; ``meshes``
    is a precomputed layer with a mesh directory, or None with a segmentation: then each
    mitochondrion is meshed from the segmentation by zmesh (:mod:`builder.sources.volume_mesh`)."""

    segmentation: str | None
    resolution_nm: Triple | None
    table: TableSpec | None
    meshes: str | None


@dataclass(frozen=True)
class SkeletonsConfig:
    """``[skeletons]``: a precomputed skeleton layer, a folder of SWC files (``<cell_id>.swc``, in
    ``positions``' unit) or a folder of MeshParty h5 files (``<cell_id>.h5``, nm): exactly one; and
    the labels' source: a vertex ``attribute`` (precomputed, h5), the SWC type column
    (``swc_type``) or ``infer``. ``codes`` maps the source's label values to our codes (0-5)."""

    precomputed: str | None
    swc: Path | None
    labels: str
    attribute: str | None
    codes: Mapping[int, int]
    positions: Positions
    meshparty_h5: Path | None = None

    @property
    def form(self) -> str:
        """``precomputed``, ``swc`` or ``meshparty_h5``: the key that was given."""
        return "precomputed" if self.precomputed else "swc" if self.swc else "meshparty_h5"

    @property
    def folder(self) -> Path | None:
        """The folder of SWC or h5 files (None for a precomputed layer)."""
        return self.swc or self.meshparty_h5


@dataclass(frozen=True)
class VolumeConfig:
    """A loaded VOLUME.toml (``path`` is the file, absolute)."""

    path: Path
    cells: CellsConfig
    mitochondria: MitochondriaConfig
    skeletons: SkeletonsConfig
    synapses: TableSpec


class _Section:
    """One TOML table being checked: its keys are taken one by one, leftovers are refused."""

    def __init__(self, path: Path, name: str, data: Any) -> None:
        self.path, self.name = path, name
        if not isinstance(data, dict):
            self.fail("", f"must be a table ([{name}]), not {type(data).__name__}", f"Write it as [{name}] with its keys")
        self.data = dict(data)
        self.known: list[str] = []

    def key(self, k: str) -> str:
        return f"{self.name}.{k}" if self.name else k

    def fail(self, k: str, problem: str, fix: str = "") -> None:
        raise VolumeConfigError(self.path, self.key(k) if k else self.name, problem, fix)

    def take(self, k: str, required: bool = True, kinds: tuple[type, ...] = (str,), hint: str = "") -> Any:
        self.known.append(k)
        if k not in self.data:
            if required:
                self.fail(k, "missing key", f"Add it to [{self.name}]{': ' + hint if hint else ''} (docs/volume.md)")
            return None
        v = self.data.pop(k)
        if not isinstance(v, kinds) or isinstance(v, bool) and bool not in kinds:
            want = " or ".join(t.__name__ for t in kinds)
            self.fail(k, f"must be a {want}, not {v!r}", hint)
        return v

    def sub(self, k: str, required: bool = True) -> _Section | None:
        v = self.take(k, required, (dict,), f"a table [{self.key(k)}]")
        return None if v is None else _Section(self.path, self.key(k), v)

    def done(self) -> None:
        for k in self.data:
            close = difflib.get_close_matches(k, self.known, n=1)
            fix = f"Did you mean '{close[0]}'?" if close else f"Known keys: {', '.join(self.known)}"
            self.fail(k, f"unknown key in [{self.name or 'top level'}]", fix)

    def exclusive(self, *keys: str) -> str:
        has = [k for k in keys if k in self.data]
        if len(has) != 1:
            what = f"none of {', '.join(keys)} given"
            if has:
                what = ("both " if len(keys) == 2 else "") + " and ".join(f"'{k}'" for k in has) + " given"
            self.fail(" / ".join(keys), f"{what}; exactly one is needed",
                      f"Keep one of {', '.join(f'{k} = ...' for k in keys)}")  # fmt: skip
        return has[0]

    def folder(self, k: str) -> Path:
        """A local folder (absolute or relative to the TOML's folder) that exists."""
        p = self.local(k, self.take(k, hint="a folder, absolute or relative to this file"))
        if not p.is_dir():
            self.fail(k, f"{p} is not a folder", f"Give the folder holding the <cell_id> files of {k}")
        return p

    def local(self, k: str, value: str) -> Path:
        p = Path(value).expanduser()
        p = p if p.is_absolute() else (self.path.parent / p)
        if not p.exists():
            self.fail(k, f"{p} does not exist", f"Fix the path (relative paths are read from {self.path.parent})")
        return p.resolve()

    def resolution(self, k: str, required: bool = True) -> Triple | None:
        v = self.take(k, required, (list,), "three voxel sides in nm, e.g. [16, 16, 40]")
        if v is None:
            return None
        ok = len(v) == 3 and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0 for x in v)
        if not ok:
            self.fail(k, f"{v!r} is not three positive voxel sides in nm", "Write it as [x, y, z], e.g. [16, 16, 40]")
        return (float(v[0]), float(v[1]), float(v[2]))

    def layer(self, k: str, required: bool = True, resolution: Triple | None = None, needs: str = "") -> str | None:
        """A cloud-volume path; a local folder (absolute or relative) becomes ``file://``. A local
        layer must have an ``info`` (with key ``needs`` if given, and voxel size ``resolution``)."""
        v = self.take(k, required, hint="a cloud-volume path (file://, gs://, s3://, precomputed://https://...) or a folder")
        if v is None:
            return None
        if "://" in v and not v.startswith(SCHEMES):
            self.fail(k, f"{v!r}: unknown scheme", f"Use one of {', '.join(SCHEMES)} or a local folder")
        if "://" in v and not v.startswith("file://"):
            return v  # remote: read (and checked) by cloud-volume when the build opens it
        folder = self.local(k, v.removeprefix("file://"))
        info = _layer_info(self, k, folder)
        if needs and needs not in info:
            self.fail(k, f"the info of {folder} names no '{needs}' directory", f"Point it to a layer with {needs}")
        if resolution is not None and info.get("scales"):
            have = tuple(float(x) for x in info["scales"][0]["resolution"])
            if not np.allclose(have, resolution):
                self.fail("resolution_nm", f"{list(resolution)} but {folder}/info says {list(have)}",
                          f"Write resolution_nm = {[x if x % 1 else int(x) for x in have]}")  # fmt: skip
        return f"file://{folder}"

    def positions(self) -> Positions:
        unit = self.take("position_unit", hint=f"one of {', '.join(UNITS)}")
        if unit not in UNITS:
            self.fail("position_unit", f"{unit!r} is not a unit", f"Write one of {', '.join(repr(u) for u in UNITS)}")
        res = self.resolution("position_resolution_nm", required=unit == "voxels")
        if unit != "voxels" and res is not None:
            self.fail(
                "position_resolution_nm", f"given, but position_unit = {unit!r}", "Drop it, or state position_unit = 'voxels'"
            )
        return Positions(unit, res)

    def table(self, spec: Mapping[str, bool], k: str = "table") -> TableSpec:
        path = self.local(k, self.take(k, hint="a .csv or .parquet file"))
        if path.suffix.lower() not in TABLE_SUFFIXES:
            self.fail(k, f"{path.name} is neither CSV nor Parquet", f"Give a file ending in {', '.join(TABLE_SUFFIXES)}")
        cols = self.sub("columns")
        assert cols is not None
        mapping = {
            name: cols.take(name, required, hint=f"the column of the table holding {name}") for name, required in spec.items()
        }
        cols.done()
        mapping = {name: c for name, c in mapping.items() if c is not None}
        have = _columns_of(self, k, path)
        for name, c in mapping.items():
            if c not in have:
                close = difflib.get_close_matches(c, have, n=1)
                cols.fail(
                    name,
                    f"no column {c!r} in {path.name}",
                    f"Did you mean {close[0]!r}?" if close else f"Its columns: {have[:12]}",
                )
            if name in ID_COLUMNS and have[c] == "float":
                cols.fail(
                    name, f"column {c!r} of {path.name} is floating point", "Store ids as int64: float rounds them above 2**53"
                )
        return TableSpec(path, MappingProxyType(mapping), self.positions())


def _layer_info(sec: _Section, k: str, folder: Path) -> dict:
    try:
        return json.loads((folder / "info").read_text())
    except FileNotFoundError:
        sec.fail(
            k, f"{folder} has no info file: not a precomputed layer", "Point it to the layer's folder (the one holding 'info')"
        )
    except (OSError, json.JSONDecodeError) as exc:
        sec.fail(k, f"{folder}/info is unreadable ({exc})", "Rewrite the layer's info")
    raise AssertionError


def _columns_of(sec: _Section, k: str, path: Path) -> dict[str, str]:
    try:
        return table_columns(path)
    except Exception as exc:  # pyarrow and pandas raise many types for a damaged file
        sec.fail(k, f"{path} is unreadable ({type(exc).__name__}: {exc})", "Check the file")
    raise AssertionError


def _codes(sec: _Section | None, default: Mapping[int, int]) -> Mapping[int, int]:
    """A ``[skeletons.swc_types]`` / ``[skeletons.attribute_codes]`` table: source value -> our code."""
    if sec is None:
        return MappingProxyType(dict(default))
    out = {}
    for k in list(sec.data):
        v = sec.take(k, kinds=(str, int))
        if not k.lstrip("-").isdigit():
            sec.fail(k, "keys are the source's integer label values", 'Write e.g. "3" = "Basal"')
        code = NAME_TO_CODE.get(v) if isinstance(v, str) else v if v in COMPARTMENT_NAMES else None
        if code is None:
            names = ", ".join(repr(n) for n in COMPARTMENT_NAMES.values())
            sec.fail(k, f"{v!r} is not a compartment", f"Write one of {names} (or its code 0-5)")
        out[int(k)] = int(code)
    return MappingProxyType(out)


def _cells(top: _Section) -> CellsConfig:
    sec = top.sub("cells")
    assert sec is not None
    res = sec.resolution("resolution_nm")
    seg = sec.layer("segmentation", resolution=res)
    build = sec.take("build", kinds=(str, list), hint='"all" or a list of cell ids')
    if isinstance(build, str) and build != "all":
        sec.fail("build", f"{build!r}: only the word 'all' or a list of ids", 'Write build = "all" or build = [id, ...]')
    if isinstance(build, list):
        bad = [x for x in build if not isinstance(x, int) or isinstance(x, bool) or not 0 < x < 2**63]
        if bad or not build or len(set(build)) != len(build):
            why = f"{bad[0]!r} is not a cell id (a positive 64-bit integer)" if bad else "empty or with repeated ids"
            sec.fail("build", why, "List each cell id once, as integers (no quotes)")
    somata = sec.sub("somata")
    assert somata is not None and res is not None and seg is not None
    spec = somata.table(SOMA_COLUMNS)
    somata.done()
    sec.done()
    return CellsConfig(seg, res, spec, None if build == "all" else tuple(build))


def _mitochondria(top: _Section) -> MitochondriaConfig:
    sec = top.sub("mitochondria")
    assert sec is not None
    which = sec.exclusive("segmentation", "table")
    res = sec.resolution("resolution_nm", required=which == "segmentation")
    seg = sec.layer("segmentation", required=False, resolution=res)
    table = sec.table(MITO_COLUMNS) if which == "table" else None
    if table is not None and "mito_vx" in table.columns and table.positions.unit != "voxels":
        sec.fail(
            "columns.mito_vx", "a voxel count needs the voxel size", "State position_unit = 'voxels' and position_resolution_nm"
        )
    meshes = sec.layer("meshes", required=False, needs="mesh")
    if meshes is None and seg is None:
        sec.fail("meshes", "missing: with a table and no segmentation there is nothing to mesh", "Give a mesh layer")
    sec.done()
    return MitochondriaConfig(seg, res, table, meshes)


def _skeletons(top: _Section) -> SkeletonsConfig:
    sec = top.sub("skeletons")
    assert sec is not None
    which = sec.exclusive(*SKELETON_FORMS)
    pre = sec.layer("precomputed", required=False, needs="skeletons")
    folder = sec.folder(which) if which != "precomputed" else None
    labels = sec.take("labels", hint=f"one of {', '.join(LABEL_SOURCES)}")
    fits = ("swc_type", "infer") if which == "swc" else ("attribute", "infer")
    if labels not in fits:
        sec.fail("labels", f"{labels!r} does not fit skeletons given as {which}", f"Write labels = '{fits[0]}' or 'infer'")
    attribute = sec.take("attribute", required=labels == "attribute", hint="the vertex attribute holding the labels")
    table = {"attribute": "attribute_codes", "swc_type": "swc_types"}.get(labels, "")
    default = DEFAULT_SWC_TYPES if labels == "swc_type" else {c: c for c in COMPARTMENT_NAMES}
    codes = _codes(sec.sub(table, required=False) if table else None, default)
    if which != "swc" and "position_unit" in sec.data:
        sec.fail("position_unit", f"given, but skeletons given as {which} are in nm", "Drop it (only SWC files state a unit)")
    positions = sec.positions() if which == "swc" else Positions("nm")
    sec.done()
    swc, h5 = (folder, None) if which == "swc" else (None, folder)
    return SkeletonsConfig(pre, swc, labels, attribute, codes, positions, h5)


def load_volume_config(path: Path | str) -> VolumeConfig:
    """Read and check a VOLUME.toml.

    Parameters
    ----------
    path : Path or str
        The TOML file; relative paths inside it are read from its folder.

    Returns
    -------
    VolumeConfig
        Frozen; layer paths are cloud-volume paths (local folders as absolute ``file://``),
        table paths absolute, voxel sizes in nm.

    Raises
    ------
    VolumeConfigError
        The file is missing or not TOML, or a key is missing, unknown, of the wrong type, or
        names a file, layer or column that is not there; the message names the key and the fix.
    """
    path = Path(path).expanduser().resolve()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise VolumeConfigError(path, "", "file not found", "Give the path of a VOLUME.toml (docs/volume.md)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VolumeConfigError(path, "", f"not a readable TOML file ({exc})", "Fix the syntax at that line") from exc
    top = _Section(path, "", data)
    version = top.take("format", kinds=(int,), hint=f"format = {FORMAT_VERSION}")
    if version != FORMAT_VERSION:
        top.fail(
            "format",
            f"version {version} is not one this builder reads",
            f"Write format = {FORMAT_VERSION}, or update the builder",
        )
    cfg = VolumeConfig(path, _cells(top), _mitochondria(top), _skeletons(top), _synapses(top))
    top.done()
    return cfg


def _synapses(top: _Section) -> TableSpec:
    sec = top.sub("synapses")
    assert sec is not None
    spec = sec.table(SYNAPSE_COLUMNS)
    sec.done()
    return spec

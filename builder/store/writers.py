"""Writers of the dataset's files. Every write is atomic and byte-deterministic."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from builder.store.atomic import write_bytes, write_with

SWC_FORMAT = "%d %d %.2f %.2f %.2f %.2f %d"  # decimals: builder.compute.skeleton.SWC_DECIMALS


def write_swc(path: Path, swc: pd.DataFrame) -> None:
    """SWC without comment lines: ``node label x y z radius parent`` (nm), space separated."""
    buf = io.BytesIO()
    np.savetxt(buf, swc[["node", "label", "x", "y", "z", "radius", "parent"]].to_numpy(np.float64), fmt=SWC_FORMAT)
    write_bytes(path, buf.getvalue())


def write_nodes_json(path: Path, nodes: dict[int, np.ndarray]) -> None:
    """``{"<mito_id>": [node ids]}``, keys in ascending mito id order."""
    body = {str(k): [int(x) for x in nodes[k]] for k in sorted(nodes)}
    write_bytes(path, json.dumps(body, separators=(",", ":")).encode())


def write_csv(path: Path, df: pd.DataFrame) -> None:
    """CSV with a header and no index."""
    write_bytes(path, df.to_csv(index=False, lineterminator="\n").encode())


def write_int_csv(path: Path, df: pd.DataFrame) -> None:
    """CSV of integer columns with a header and no index, byte for byte what :func:`write_csv`
    writes, by pyarrow's CSV writer (large per-cell tables: several times faster than pandas)."""
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(df.astype(np.int64), preserve_index=False)
    sink = io.BytesIO()
    sink.write((",".join(df.columns) + "\n").encode())  # the header unquoted, as pandas writes it
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    write_bytes(path, sink.getvalue())


def write_parquet(path: Path, table: pa.Table | pd.DataFrame) -> None:
    """Parquet (zstd), no pandas index, deterministic bytes for the same table."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    write_with(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20))


def write_tar_gz(path: Path, root: Path, folder: str) -> None:
    """Archive ``root/folder`` as ``folder/...`` with sorted names, zero times and owners."""
    files = sorted(p for p in (root / folder).rglob("*") if p.is_file() and not p.name.startswith("."))

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for p in files:
                    info = tarfile.TarInfo(name=p.relative_to(root).as_posix())
                    info.size = p.stat().st_size
                    info.mtime = 0
                    info.mode = 0o644
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with open(p, "rb") as fh:
                        tar.addfile(info, fh)

    write_with(path, writer)

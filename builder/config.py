"""Frozen build parameters. Everything that changes the dataset's bytes is in here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Bump when a change to the compute or the output format changes the bytes written,
#: so that resumed builds do not mix cells computed by different code.
FORMAT_VERSION = "7"


#: Keeps synthetic mito ids in their reserved range (see ``builder.schema.DEMO_MITO_ID_BASE``).
MAX_DEMO_CELLS = 5000


@dataclass(frozen=True)
class DemoParams:
    """Parameters of the synthetic demo volume."""

    seed: int = 1
    cells: int = 40

    def __post_init__(self) -> None:
        if not 1 <= self.cells <= MAX_DEMO_CELLS:
            raise ValueError(f"--cells must be between 1 and {MAX_DEMO_CELLS}, got {self.cells}")


@dataclass(frozen=True)
class BuildConfig:
    """Parameters of one dataset build.

    Attributes
    ----------
    source : str
        ``"demo"`` (synthetic volume) or another registered source name.
    raw_dir : Path
        Directory holding the source's files in the published layout.
    out_dir : Path
        Dataset directory to write.
    demo : DemoParams
        Used when ``source == "demo"``.
    workers : int
        Worker processes for per-cell work (does not change the output).
    scheduler : str or None
        ``None``: local processes; ``"local"``: a Dask LocalCluster of ``workers`` processes;
        ``"tcp://HOST:PORT"``: a running Dask scheduler (does not change the output).
    mesh_source : str
        Mitochondria mesh layer of a real source (recorded in the manifest).
    volume : str
        The VOLUME.toml of ``source == "volume"`` (recorded in the manifest).
    """

    source: str = "demo"
    raw_dir: Path = Path("data/raw/demo")
    out_dir: Path = Path("data/demo")
    demo: DemoParams = field(default_factory=DemoParams)
    workers: int = 1
    scheduler: str | None = None
    mesh_source: str = ""
    volume: str = ""

    def output_parameters(self) -> dict:
        """The parameters that determine the output (recorded in the manifest)."""
        params: dict = {"source": self.source, "format_version": FORMAT_VERSION}
        if self.source == "demo":
            params["demo"] = asdict(self.demo)
        else:
            params["mesh_source"] = self.mesh_source
        if self.source == "volume":
            params["volume"] = self.volume
        return params

    def fingerprint(self, source_fingerprint: str) -> str:
        """Hash of the output parameters and the source's input fingerprint."""
        blob = json.dumps([self.output_parameters(), source_fingerprint], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

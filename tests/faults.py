"""Sources that wrap a real one and misbehave on purpose (fault-injection tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DelegatingSource:
    """Forwards everything to ``inner``; subclasses override what should go wrong."""

    inner: object
    name = "demo"
    synthetic = True

    @property
    def label_names(self):
        return self.inner.label_names

    def fingerprint(self):
        return self.inner.fingerprint()

    def tables(self):
        return self.inner.tables()

    def skeleton(self, cell_id):
        return self.inner.skeleton(cell_id)

    def meshes(self, cell_id, ids):
        return self.inner.meshes(cell_id, ids)


@dataclass(frozen=True)
class Dies(DelegatingSource):
    """Fails hard after loading ``n`` cells (an interrupted build); ``counter`` is a list."""

    n: int = 0
    counter: list = None

    def skeleton(self, cell_id):
        self.counter.append(cell_id)
        if len(self.counter) > self.n:
            raise KeyboardInterrupt("killed")
        return self.inner.skeleton(cell_id)


@dataclass(frozen=True)
class KillsItsWorker(DelegatingSource):
    """Kills the worker process the first time it loads ``victim`` (flag file marks it done)."""

    victim: int = 0
    flag: str = ""

    def skeleton(self, cell_id):
        if cell_id == self.victim and not Path(self.flag).exists():
            Path(self.flag).write_text("killed once")
            os._exit(1)  # the worker process dies mid-task, as with an OOM kill
        return self.inner.skeleton(cell_id)

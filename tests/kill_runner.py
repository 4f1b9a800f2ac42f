"""Run the builder CLI and SIGKILL it in the middle of writing a chosen file (fault tests).

    python tests/kill_runner.py PATTERN N -- <builder arguments>

The N-th atomic write whose final path ends with PATTERN is cut short: half of its temporary
file is written, then the process kills itself with SIGKILL (no cleanup, no atexit, exactly
like ``kill -9`` or the OOM killer). PATTERN ``-`` runs the builder without a fault.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path


def install(pattern: str, nth: int) -> None:
    from builder.store import atomic

    real = atomic.atomic_path
    seen = [0]

    @contextlib.contextmanager
    def cut(path):
        if not str(path).endswith(pattern):
            with real(path) as tmp:
                yield tmp
            return
        seen[0] += 1
        if seen[0] < nth:
            with real(path) as tmp:
                yield tmp
            return
        tmp = atomic.tmp_path(Path(path))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        yield tmp  # the writer writes the whole temporary ...
        size = tmp.stat().st_size
        with open(tmp, "r+b") as fh:  # ... of which only half reached the disk
            fh.truncate(size // 2)
        os.kill(os.getpid(), signal.SIGKILL)

    atomic.atomic_path = cut


if __name__ == "__main__":
    sep = sys.argv.index("--")
    pattern, nth = sys.argv[1], int(sys.argv[2])
    if pattern != "-":
        install(pattern, nth)
    from builder.__main__ import main

    sys.exit(main(sys.argv[sep + 1 :]))

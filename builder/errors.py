"""Errors of the builder. Every message names the file, the row or id, and what to do."""

from __future__ import annotations

from pathlib import Path


class BuilderError(Exception):
    """Base class of every error the builder raises on purpose."""


class InputFileError(BuilderError):
    """A raw input file is missing, unreadable or malformed.

    Parameters
    ----------
    path : path of the offending file
    problem : what is wrong (column, row, value)
    fix : what the user can do about it
    """

    def __init__(self, path: Path | str, problem: str, fix: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        msg = f"{self.path}: {problem}"
        if fix:
            msg += f". {fix}"
        super().__init__(msg)


class VolumeConfigError(InputFileError):
    """A VOLUME.toml (read by :func:`builder.sources.volume_config.load_volume_config`, built by
    ``build --source volume``) is unusable: names the file, the key and the fix.

    Parameters
    ----------
    path : the TOML file
    key : the offending key, dotted (``mitochondria.segmentation``); "" for the whole file
    problem : what is wrong
    fix : what to write instead
    """

    def __init__(self, path: Path | str, key: str, problem: str, fix: str = "") -> None:
        self.key = key
        super().__init__(path, f"{key}: {problem}" if key else problem, fix)


class CellInputError(BuilderError):
    """One cell's inputs are unusable; the cell is skipped and reported, the build goes on.

    Parameters
    ----------
    cell_id : the cell's root id
    reason : short reason written to the build report
    path : the file that caused it, if any
    """

    def __init__(self, cell_id: int, reason: str, path: Path | str | None = None) -> None:
        self.cell_id = int(cell_id)
        self.reason = reason
        self.path = None if path is None else str(path)
        where = f" ({self.path})" if self.path else ""
        super().__init__(f"cell {self.cell_id}: {reason}{where}")


class SourceUnavailableError(CellInputError):
    """A remote part of a source (e.g. the mesh layer) cannot be reached for one cell.

    The cell is skipped and reported (not built with degraded measures), so that the next
    build, when the source can be reached, builds it in full.
    """


class DownloadError(BuilderError):
    """A published file could not be fetched or failed its checksum; names the file and URL."""


class DatasetError(BuilderError):
    """A built dataset is missing, incomplete or damaged."""


class OutputWriteError(BuilderError):
    """An output could not be written (disk full, permissions); names the path."""

    def __init__(self, path: Path | str, cause: OSError) -> None:
        self.path = Path(path)
        super().__init__(
            f"cannot write {self.path}: {cause.strerror or cause}. "
            "Free disk space or fix permissions, then rerun the same command to resume"
        )


class FolderBusyError(BuilderError):
    """Another process is writing the same folder (its lock is held); names that process."""

    def __init__(self, folder: Path | str, holder: str) -> None:
        self.folder = Path(folder)
        self.holder = holder
        super().__init__(
            f"{self.folder} is being written by another process ({holder}); wait for it to end, or stop it, "
            "then rerun this command (one writer per folder)"
        )

"""Unpacking a published archive safely, wherever inside it the wanted files sit.

The release's skeleton archive ``211019_smoothed_skeletons.tgz`` unpacks to a folder named
``smoothed_skeletons_v185/``, not after the archive (MicronsBinder's Makefile and lib/skel.py);
an archive repacked by hand may wrap another folder or none. :func:`unpack_folder` finds the one
folder that holds the wanted files and moves it into place under the expected name.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

from builder.errors import DownloadError


def unpack_folder(archive: Path, dest: Path, folder: str, member_glob: str = "*") -> Path:
    """Unpack ``archive`` and put the folder holding its ``member_glob`` files at ``dest/folder``.

    Extraction refuses absolute paths, links and ``..`` (tarfile's ``data`` filter) and goes to
    a temporary folder first, so an interrupted unpack never leaves a half-filled ``folder``.

    Parameters
    ----------
    archive : Path
        A tar archive (any compression tarfile reads).
    dest : Path
        Directory the folder goes into.
    folder : str
        Name the folder gets, whatever it is called inside the archive.
    member_glob : str
        Pattern of the files that mark the wanted folder (e.g. ``*_skeleton.h5``).

    Returns
    -------
    Path
        ``dest / folder``.

    Raises
    ------
    DownloadError
        The archive is unreadable, holds no such file, or holds them in several folders.
    """
    archive, dest = Path(archive), Path(dest)
    tmp = dest / f".{folder}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise DownloadError(f"{archive}: not a readable archive ({exc}); delete it and rerun to download it again") from exc
        holders = sorted({p.parent for p in tmp.rglob(member_glob) if p.is_file()})
        if len(holders) != 1:
            found = [str(h.relative_to(tmp)) for h in holders[:5]]
            raise DownloadError(
                f"{archive}: expected one folder of {member_glob} files, found {len(holders)} {found}; "
                f"unpack it by hand into {dest / folder}"
            )
        target = dest / folder
        if target.exists():
            shutil.rmtree(target)
        os.replace(holders[0], target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pack_folder(folder: Path, archive: Path) -> None:
    """Write ``folder`` as a gzipped tar whose members sit under ``folder.name/``, atomically
    and reproducibly (sorted members, no owner names, fixed times), as the release packs its
    skeletons (``211019_smoothed_skeletons.tgz`` -> ``smoothed_skeletons_v185/...``)."""
    import gzip

    folder, archive = Path(folder), Path(archive)
    tmp = archive.with_name(f".{archive.name}.tmp-{os.getpid()}")

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        tar.add(folder, arcname=folder.name, recursive=False, filter=clean)
        for p in sorted(folder.iterdir()):
            if not p.name.startswith("."):
                tar.add(p, arcname=f"{folder.name}/{p.name}", filter=clean)
    os.replace(tmp, archive)

"""Resumable, checksummed downloads of published files from Zenodo-style records.

A record lists its files with checksums at ``{base}/api/records/{record}``; a file is served at
``{base}/records/{record}/files/{name}?download=1``. Downloads go to ``{name}.part`` and are
resumed with an HTTP ``Range`` request; a finished file is checked against its recorded md5
before it is renamed into place, so a half-downloaded or damaged file never has the final name.
What has been verified is remembered in ``.downloads.json`` next to the files (the cache): a
file that has not changed since is not hashed or downloaded again.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import socket
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from builder.errors import DownloadError

log = logging.getLogger(__name__)
STATE_FILE = ".downloads.json"
CHUNK = 1 << 20
RETRIES = 3


@dataclass(frozen=True)
class RemoteFile:
    """One published file.

    Attributes
    ----------
    name : str
        File name in the record and on disk.
    record : int
        Record expected to hold it (the record listings are searched by name if it is not there).
    md5 : str or None
        Recorded checksum; None to take it from the record listing.
    extract_to : str or None
        For an archive: the directory it unpacks into (then the archive itself is not kept).
    """

    name: str
    record: int
    md5: str | None = None
    extract_to: str | None = None


def file_url(base_url: str, record: int, name: str) -> str:
    """Download URL of ``name`` in ``record``."""
    return f"{base_url.rstrip('/')}/records/{record}/files/{name}?download=1"


def _hashes(path: Path) -> tuple[str, str]:
    """md5 (what the records publish) and sha256 of a file, in one pass."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _unreachable(exc: BaseException) -> bool:
    """True for errors that mean "no network / no server", not "the server said no"."""
    if isinstance(exc, urllib.error.HTTPError):
        return False
    return isinstance(exc, (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError))


class Downloader:
    """Fetch files of several records into one directory.

    Parameters
    ----------
    dest : Path
        Directory the files go to.
    base_url : str
        Server root, e.g. ``https://zenodo.org`` (a mirror or a local test server works too).
    records : tuple of int
        Records whose listings are searched for file names and checksums.
    timeout : float
        Seconds to wait for the server on each request.
    """

    def __init__(self, dest: Path, base_url: str, records: tuple[int, ...], timeout: float = 30.0) -> None:
        self.dest = Path(dest)
        self.base_url = base_url
        self.records = records
        self.timeout = timeout
        self._listings: dict[int, dict[str, dict]] = {}
        self.offline_reason = ""

    # -- cache state -------------------------------------------------------------------------
    def _state(self) -> dict:
        try:
            return json.loads((self.dest / STATE_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def _save_state(self, state: dict) -> None:
        tmp = self.dest / f".{STATE_FILE}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(tmp, self.dest / STATE_FILE)

    def is_cached(self, f: RemoteFile) -> bool:
        """True if ``f`` is in place (or unpacked) and unchanged since it was verified."""
        if f.extract_to:
            return (self.dest / f.extract_to).is_dir() and any((self.dest / f.extract_to).iterdir())
        p = self.dest / f.name
        entry = self._state().get(f.name)
        if not p.is_file() or entry is None:
            return False
        st = p.stat()
        return entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns

    # -- record listings ---------------------------------------------------------------------
    def _listing(self, record: int) -> dict[str, dict]:
        if record not in self._listings:
            url = f"{self.base_url.rstrip('/')}/api/records/{record}"
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as r:
                    files = json.load(r).get("files", [])
            except (urllib.error.HTTPError, json.JSONDecodeError, AttributeError) as exc:
                log.warning("record %d: no usable file listing at %s (%s)", record, url, exc)
                files = []
            self._listings[record] = {e["key"]: e for e in files if isinstance(e, dict) and "key" in e}
        return self._listings[record]

    def locate(self, f: RemoteFile) -> tuple[int, str | None]:
        """Record holding ``f`` and its md5 (the recorded one, else the listing's)."""
        for record in (f.record, *[r for r in self.records if r != f.record]):
            entry = self._listing(record).get(f.name)
            if entry is not None:
                listed = str(entry.get("checksum", "")).removeprefix("md5:") or None
                if f.md5 and listed and listed != f.md5:
                    log.warning("%s: record %d lists md5 %s, recorded %s; using the recorded one", f.name, record, listed, f.md5)
                return record, f.md5 or listed
        return f.record, f.md5

    # -- transfer ----------------------------------------------------------------------------
    def _transfer(self, url: str, part: Path, label: str) -> None:
        have = part.stat().st_size if part.exists() else 0
        req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: the part file is complete
                return
            raise
        with resp:
            if have and resp.status != 206:
                log.info("%s: server does not resume downloads; starting again", label)
                have = 0
            length = resp.headers.get("Content-Length")
            total = have + int(length) if length else None
            with open(part, "ab" if have else "wb") as fh, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=label, disable=None
            ) as bar:
                while chunk := resp.read(CHUNK):
                    fh.write(chunk)
                    bar.update(len(chunk))
        size = part.stat().st_size
        if total is not None and size < total:  # the connection closed early (read(n) does not raise)
            raise http.client.IncompleteRead(b"", total - size)

    def fetch(self, f: RemoteFile) -> Path:
        """Download, verify and put ``f`` in place (unpack it if it is an archive).

        Raises
        ------
        DownloadError
            Checksum mismatch or an HTTP error (the message names the file and URL).
        OSError, urllib.error.URLError
            The server cannot be reached (the caller lists what is missing).
        """
        self.dest.mkdir(parents=True, exist_ok=True)
        record, md5 = self.locate(f)
        url = file_url(self.base_url, record, f.name)
        part = self.dest / f"{f.name}.part"
        for attempt in range(1, RETRIES + 1):
            try:
                self._transfer(url, part, f.name)
                break
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"{f.name}: the server answered HTTP {exc.code} for {url}") from exc
            except (http.client.IncompleteRead, ConnectionResetError, socket.timeout, TimeoutError) as exc:
                if attempt == RETRIES:
                    raise DownloadError(
                        f"{f.name}: transfer from {url} broke off {RETRIES} times ({exc}); "
                        f"rerun to resume from the {part.stat().st_size if part.exists() else 0} bytes already in {part}"
                    ) from exc
                log.info("%s: transfer interrupted (%s); resuming (attempt %d)", f.name, type(exc).__name__, attempt + 1)
        got, sha = _hashes(part)
        if md5 and got != md5:
            part.unlink()
            raise DownloadError(
                f"{f.name}: md5 {got} does not match the recorded {md5} (from {url}); "
                "the damaged download was removed, rerun to download it again"
            )
        if not md5:
            log.warning("%s: no recorded checksum; kept unverified (md5 %s)", f.name, got)
        final = self.dest / f.name
        os.replace(part, final)
        if f.extract_to:
            _extract(final, self.dest, f.extract_to)
            final.unlink()
            final = self.dest / f.extract_to
        else:
            st = final.stat()
            state = self._state()
            state[f.name] = {"md5": got, "sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "url": url}
            self._save_state(state)
        return final

    def ensure(self, files: list[RemoteFile], offline: bool = False) -> list[RemoteFile]:
        """Fetch every file not already in place; return those still missing.

        A file placed by hand (present, not in the cache state) is accepted when its md5
        matches the recorded one, or when there is no recorded checksum.
        """
        missing = []
        for f in files:
            if self.is_cached(f) or self._accept_by_hand(f):
                continue
            if offline or self.offline_reason:
                missing.append(f)
                continue
            try:
                self.fetch(f)
            except DownloadError:
                raise
            except Exception as exc:
                if not _unreachable(exc):
                    raise
                self.offline_reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
                missing.append(f)
        return missing

    def _accept_by_hand(self, f: RemoteFile) -> bool:
        p = self.dest / f.name
        if f.extract_to and p.is_file():  # archive placed by hand: unpack it
            _extract(p, self.dest, f.extract_to)
            return True
        if f.extract_to or not p.is_file():
            return False
        got, sha = _hashes(p)
        state = self._state()
        known = f.md5 or state.get(f.name, {}).get("md5")  # recorded, or what was downloaded
        if known and got != known:
            what = "the recorded" if f.md5 else "the one it had when it was downloaded,"
            raise DownloadError(
                f"{p}: md5 {got} does not match {what} {known}; "
                "replace it with the published file (or delete it to download it again)"
            )
        st = p.stat()
        state[f.name] = {"md5": got, "sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "url": "placed by hand"}
        self._save_state(state)
        return True


def _extract(archive: Path, dest: Path, folder: str) -> None:
    """Unpack a tar archive into ``dest/folder`` safely (no absolute paths, links or ``..``)."""
    tmp = dest / f".{folder}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DownloadError(f"{archive}: not a readable archive ({exc}); delete it and rerun to download it again") from exc
    inner = tmp / folder if (tmp / folder).is_dir() else tmp  # archives may or may not wrap a folder
    target = dest / folder
    if target.exists():
        shutil.rmtree(target)
    os.replace(inner, target)
    shutil.rmtree(tmp, ignore_errors=True)


def missing_files_message(missing: list[RemoteFile], downloader: Downloader, reason: str) -> str:
    """One message naming each missing file, its URL and where to put it by hand."""
    lines = [f"{len(missing)} published file(s) are missing and cannot be downloaded ({reason}).",
             "Download them by hand (or on a machine with internet) and put them here:"]  # fmt: skip
    for f in missing:
        where = downloader.dest / (f.extract_to + "/  (unpacked from " + f.name + ")" if f.extract_to else f.name)
        lines.append(f"  {f.name}\n    from {file_url(downloader.base_url, f.record, f.name)}\n    to   {where}")
    lines.append("then rerun the same command; files placed by hand are checked against the recorded checksums.")
    return "\n".join(lines)

"""Resumable, checksummed downloads of published files from Zenodo-style records.

A record lists its files with checksums at ``{base}/api/records/{record}``; a file is served at
``{base}/records/{record}/files/{name}?download=1``. Listing entries name the file with ``key``
(``filename`` in 2023-era listings) and give ``checksum`` as ``md5:<hex>`` (or bare hex); the
listing's md5 is the authority. Guests get 60 API requests a minute: HTTP 429 and 5xx answers
are retried with backoff, honouring ``Retry-After``. Downloads go to ``{name}.part`` and are
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
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from builder.errors import DownloadError
from builder.sources.archive import unpack_folder

log = logging.getLogger(__name__)
STATE_FILE = ".downloads.json"
CHUNK = 1 << 20
RETRIES = 3
#: Attempts for an HTTP 429 / 5xx answer, and the first backoff in seconds (doubled each time).
HTTP_ATTEMPTS = 5
BACKOFF_S = 2.0
MAX_WAIT_S = 120.0


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
    member_glob : str
        For an archive: files that mark the folder to take from it, wherever it sits inside.
    also_accept : tuple of str
        For an archive: other folder names under which an unpacked copy is accepted.
    """

    name: str
    record: int
    md5: str | None = None
    extract_to: str | None = None
    member_glob: str = "*"
    also_accept: tuple[str, ...] = ()


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
        self.backoff = BACKOFF_S

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
            return any(
                (self.dest / d).is_dir() and any((self.dest / d).glob(f.member_glob)) for d in (f.extract_to, *f.also_accept)
            )
        p = self.dest / f.name
        entry = self._state().get(f.name)
        if not p.is_file() or entry is None:
            return False
        st = p.stat()
        return entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns

    # -- HTTP with retries on 429 / 5xx ---------------------------------------------------------
    def _open(self, req: urllib.request.Request | str):
        """``urlopen`` that retries HTTP 429 and 5xx answers with backoff (``Retry-After`` wins)."""
        for attempt in range(1, HTTP_ATTEMPTS + 1):
            try:
                return urllib.request.urlopen(req, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500 or attempt == HTTP_ATTEMPTS:
                    raise
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                wait = min(MAX_WAIT_S, self.backoff * 2 ** (attempt - 1) if wait is None else wait)
                url = req if isinstance(req, str) else req.full_url
                log.warning("%s: HTTP %d; retrying in %.1f s (attempt %d of %d)", url, exc.code, wait, attempt + 1, HTTP_ATTEMPTS)
                time.sleep(wait)
        raise AssertionError("unreachable")

    # -- record listings ---------------------------------------------------------------------
    def _listing(self, record: int) -> dict[str, dict]:
        if record not in self._listings:
            url = f"{self.base_url.rstrip('/')}/api/records/{record}"
            try:
                with self._open(url) as r:
                    files = json.load(r).get("files", [])
            except (urllib.error.HTTPError, json.JSONDecodeError, AttributeError) as exc:
                log.warning("record %d: no usable file listing at %s (%s)", record, url, exc)
                files = []
            entries = {}
            for e in files if isinstance(files, list) else []:
                name = (e.get("key") or e.get("filename")) if isinstance(e, dict) else None
                if name:
                    entries[str(name)] = e
            self._listings[record] = entries
        return self._listings[record]

    def locate(self, f: RemoteFile) -> tuple[int, str | None]:
        """Record holding ``f`` and its md5: the listing's (the authority), else the pinned one.

        A pinned md5 that disagrees with the listing is a warning naming both, not a refusal
        (two versions of some files circulate).
        """
        for record in (f.record, *[r for r in self.records if r != f.record]):
            entry = self._listing(record).get(f.name)
            if entry is not None:
                listed = str(entry.get("checksum") or "").removeprefix("md5:").strip().lower() or None
                if f.md5 and listed and listed != f.md5:
                    log.warning(
                        "%s: record %d lists md5 %s, the project pinned %s (another version of the file circulates); "
                        "the listing's md5 is used", f.name, record, listed, f.md5,
                    )  # fmt: skip
                return record, listed or f.md5
        return f.record, f.md5

    # -- transfer ----------------------------------------------------------------------------
    def _transfer(self, url: str, part: Path, label: str) -> None:
        have = part.stat().st_size if part.exists() else 0
        req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            resp = self._open(req)
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
            with (
                open(part, "ab" if have else "wb") as fh,
                tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=label, disable=None) as bar,
            ):
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
            except (http.client.IncompleteRead, ConnectionResetError, TimeoutError) as exc:
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
            unpack_folder(final, self.dest, f.extract_to, f.member_glob)
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

        A file placed (or replaced) by hand is checked against the published md5 -- the record
        listing's when the server answers, else the pinned one -- and accepted when it matches
        or when no published checksum is at hand (with a warning).
        """
        missing = []
        for f in files:
            if self.is_cached(f):
                continue
            if (self.dest / f.name).is_file():
                self._accept_by_hand(f, *self._published_md5(f, offline))
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

    def _published_md5(self, f: RemoteFile, offline: bool) -> tuple[str | None, str]:
        """The md5 a file must have and where it comes from (listing, else pinned, else none)."""
        if not offline and not self.offline_reason:
            try:
                record, md5 = self.locate(f)
                if md5:
                    return md5, f"the md5 published in record {record}"
            except Exception as exc:
                if not _unreachable(exc):
                    raise
                self.offline_reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        return f.md5, "the pinned md5"

    def _accept_by_hand(self, f: RemoteFile, md5: str | None, origin: str) -> None:
        """Check a file placed or replaced by hand against ``md5``; unpack an archive."""
        p = self.dest / f.name
        got, sha = _hashes(p)
        if md5 and got not in (md5, f.md5):
            raise DownloadError(
                f"{p}: md5 {got} does not match {origin} ({md5}); "
                "replace it with the published file (or delete it to download it again)"
            )
        if md5 and got != md5:  # the pinned version, not the listed one
            log.warning("%s: md5 %s is the pinned version, not %s (%s); accepted", p, got, md5, origin)
        if not md5:
            before = self._state().get(f.name, {}).get("md5")
            change = f"changed since it was verified (md5 was {before}); " if before and before != got else ""
            log.warning("%s: %sno published checksum at hand (offline?); accepted unverified (md5 %s)", p, change, got)
        if f.extract_to:
            unpack_folder(p, self.dest, f.extract_to, f.member_glob)
            return
        st = p.stat()
        state = self._state()
        state[f.name] = {"md5": got, "sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "url": "placed by hand"}
        self._save_state(state)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds; HTTP dates fall back to backoff)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def missing_files_message(missing: list[RemoteFile], downloader: Downloader, reason: str) -> str:
    """One message naming each missing file, its URL and where to put it by hand."""
    lines = [f"{len(missing)} published file(s) are missing and cannot be downloaded ({reason}).",
             "Download them by hand (or on a machine with internet) and put them here:"]  # fmt: skip
    for f in missing:
        where = downloader.dest / (f.extract_to + "/  (unpacked from " + f.name + ")" if f.extract_to else f.name)
        lines.append(f"  {f.name}\n    from {file_url(downloader.base_url, f.record, f.name)}\n    to   {where}")
    lines.append("then rerun the same command; files placed by hand are checked against the recorded checksums.")
    return "\n".join(lines)

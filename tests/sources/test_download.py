"""Downloads from a local records server: resume, checksums, cache, offline message, archives."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from builder.errors import DownloadError
from builder.sources.download import STATE_FILE, Downloader, RemoteFile, missing_files_message
from tests.sources.records_server import serve

A = b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(5000))
B = b"x,y\n1,2\n"


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_download_verify_and_cache(tmp_path):
    files = [RemoteFile("a.csv", 1, md5=hashlib.md5(A).hexdigest()), RemoteFile("b.csv", 1)]
    with serve({1: {"a.csv": A, "b.csv": B}, 2: {}}) as (srv, url):
        dl = Downloader(tmp_path, url, (1, 2))
        assert dl.ensure(files) == []
        assert (tmp_path / "a.csv").read_bytes() == A and (tmp_path / "b.csv").read_bytes() == B
        assert not list(tmp_path.glob("*.part")) and (tmp_path / STATE_FILE).is_file()
        state = json.loads((tmp_path / STATE_FILE).read_text())
        assert state["a.csv"]["md5"] == hashlib.md5(A).hexdigest() and state["a.csv"]["sha256"] == hashlib.sha256(A).hexdigest()
        srv.requests.clear()
        assert Downloader(tmp_path, url, (1, 2)).ensure(files) == []
        assert srv.requests == []  # cached: nothing asked of the server
        (tmp_path / "b.csv").write_bytes(B[:-3])  # damaged after the download: checked again
        with pytest.raises(DownloadError, match=r"b\.csv: md5 .* does not match the md5 published in record 1"):
            Downloader(tmp_path, url, (1, 2)).ensure(files)


def test_interrupted_transfer_resumes_with_range(tmp_path):
    with serve({1: {"a.csv": A}}) as (srv, url):
        srv.cut_after["a.csv"] = 1000  # the connection drops after 1000 bytes
        Downloader(tmp_path, url, (1,)).ensure([RemoteFile("a.csv", 1)])
        assert (tmp_path / "a.csv").read_bytes() == A
        ranges = [r for p, r in srv.requests if p.endswith("/a.csv")]
        assert ranges == [None, "bytes=1000-"]


def test_a_killed_download_resumes_from_its_part_file(tmp_path):
    (tmp_path / "a.csv.part").write_bytes(A[:777])  # what a killed process leaves behind
    with serve({1: {"a.csv": A}}) as (srv, url):
        Downloader(tmp_path, url, (1,)).ensure([RemoteFile("a.csv", 1)])
        assert (tmp_path / "a.csv").read_bytes() == A
        assert [r for p, r in srv.requests if p.endswith("/a.csv")] == ["bytes=777-"]


def test_checksum_mismatch_names_the_file_and_keeps_nothing(tmp_path):
    with serve({1: {"a.csv": A}}) as (srv, url):
        srv.listing_md5["a.csv"] = "0" * 32
        with pytest.raises(DownloadError, match=r"a\.csv: md5 [0-9a-f]{32} does not match the recorded 0{32}"):
            Downloader(tmp_path, url, (1,)).ensure([RemoteFile("a.csv", 1)])
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "a.csv.part").exists()


def test_file_found_in_another_record(tmp_path):
    with serve({1: {}, 2: {"b.csv": B}}) as (srv, url):
        Downloader(tmp_path, url, (1, 2)).ensure([RemoteFile("b.csv", 1)])
        assert (tmp_path / "b.csv").read_bytes() == B
        assert ("/records/2/files/b.csv", None) in srv.requests


def test_offline_lists_each_missing_file_with_url_and_destination(tmp_path):
    files = [RemoteFile("a.csv", 1), RemoteFile("skel.tgz", 2, extract_to="skel")]
    dl = Downloader(tmp_path, "http://127.0.0.1:9", (1, 2), timeout=2)  # nothing listens on port 9
    missing = dl.ensure(files)
    assert missing == files and dl.offline_reason
    msg = missing_files_message(missing, dl, dl.offline_reason)
    assert "http://127.0.0.1:9/records/1/files/a.csv?download=1" in msg and str(tmp_path / "a.csv") in msg
    assert "http://127.0.0.1:9/records/2/files/skel.tgz?download=1" in msg and str(tmp_path / "skel") in msg


def test_files_placed_by_hand_are_checked(tmp_path):
    (tmp_path / "a.csv").write_bytes(A)
    good = RemoteFile("a.csv", 1, md5=hashlib.md5(A).hexdigest())
    assert Downloader(tmp_path, "http://127.0.0.1:9", (1,)).ensure([good], offline=True) == []
    (tmp_path / "a.csv").write_bytes(A[:-10])  # truncated copy
    with pytest.raises(DownloadError, match=r"a\.csv: md5 .* does not match the pinned md5"):
        Downloader(tmp_path, "http://127.0.0.1:9", (1,)).ensure([good], offline=True)


def test_a_file_replaced_by_hand_is_checked_again_not_refused_forever(tmp_path):
    """The cache remembers the first copy; a new copy is judged by the published md5."""
    (tmp_path / "a.csv").write_bytes(A)
    with serve({1: {"a.csv": A}}) as (_, url):
        assert Downloader(tmp_path, url, (1,)).ensure([RemoteFile("a.csv", 1)]) == []
    v2 = A + b"5000,25000000\n"  # the record was updated; the user puts the new version in place
    (tmp_path / "a.csv").write_bytes(v2)
    with serve({1: {"a.csv": v2}}) as (_, url):
        assert Downloader(tmp_path, url, (1,)).ensure([RemoteFile("a.csv", 1)]) == []
        assert json.loads((tmp_path / STATE_FILE).read_text())["a.csv"]["md5"] == hashlib.md5(v2).hexdigest()
        (tmp_path / "a.csv").write_bytes(A[:100])  # a broken copy is still refused, naming the published md5
        with pytest.raises(DownloadError, match=hashlib.md5(v2).hexdigest()):
            Downloader(tmp_path, url, (1,)).ensure([RemoteFile("a.csv", 1)])
    # offline with nothing published at hand: accepted, with a warning
    assert Downloader(tmp_path, "http://127.0.0.1:9", (1,)).ensure([RemoteFile("a.csv", 1)], offline=True) == []


def test_listing_spellings_and_the_listing_md5_is_the_authority(tmp_path, caplog):
    """2023-era listings: ``filename`` and a bare checksum; a pin that disagrees is a warning."""
    with serve({1: {"a.csv": A}}) as (srv, url):
        srv.listing_style = "2023"
        pinned = RemoteFile("a.csv", 1, md5="f" * 32)  # another circulating version's md5
        assert Downloader(tmp_path, url, (1,)).ensure([pinned]) == []
    assert (tmp_path / "a.csv").read_bytes() == A
    assert "lists md5 " + hashlib.md5(A).hexdigest() in caplog.text and "pinned " + "f" * 32 in caplog.text


def test_rate_limits_and_server_errors_are_retried_honouring_retry_after(tmp_path, caplog):
    with serve({1: {"a.csv": A}}) as (srv, url):
        srv.fail_next = [(429, "0"), (503, None), (429, "0")]  # listing, then the file, then the file again
        dl = Downloader(tmp_path, url, (1,))
        dl.backoff = 0.01
        assert dl.ensure([RemoteFile("a.csv", 1)]) == []
    assert (tmp_path / "a.csv").read_bytes() == A
    assert caplog.text.count("retrying in") == 3 and "HTTP 429; retrying in 0.0 s" in caplog.text


def test_archive_is_unpacked_and_unsafe_archives_refused(tmp_path):
    # the release's skeleton archive unpacks to a folder not named after it
    arch = _tgz({"inner_v185/1_skeleton.h5": b"h5", "inner_v185/1_skeleton_label.npy": b"npy"})
    with serve({1: {"skel.tgz": arch}}) as (_, url):
        Downloader(tmp_path, url, (1,)).ensure([RemoteFile("skel.tgz", 1, extract_to="skel", member_glob="*_skeleton.h5")])
    assert sorted(p.name for p in (tmp_path / "skel").iterdir()) == ["1_skeleton.h5", "1_skeleton_label.npy"]
    assert not (tmp_path / "skel.tgz").exists()
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "skel.tgz").write_bytes(_tgz({"../outside.txt": b"x"}))
    with pytest.raises(DownloadError, match="not a readable archive|expected one folder"):
        Downloader(evil, "http://127.0.0.1:9", (1,)).ensure([RemoteFile("skel.tgz", 1, extract_to="skel")], offline=True)
    assert not (tmp_path / "outside.txt").exists()

"""Bad input to ``histnet datasets download`` ends in one clear line (issue "Every bad input
ends in one clear line").

Each case runs the real command -- ``histnet datasets download NAME --root DIR --base-url
http://127.0.0.1:PORT`` in a subprocess, or through click's ``CliRunner`` on
``histnet_cli.main.cli`` where the test must replace the official checksum with the test
file's -- against a loopback HTTP server the test starts and stops. Each asserts exit
status 1, exactly one line, ``Error: ...``, naming the file or folder at fault, no
traceback, and what is on disk afterwards: bytes already downloaded are kept, nothing
is extracted from a refused archive, and nothing outside the data root changes.

The module drives 16 cases:

1. the server closes the connection after 20,000 of the bytes its ``Content-Length``
   announced: the ``.part`` is kept, and the next run resumes it with
   ``Range: bytes=20000-``;
2. the resumed transfer is cut short again: the ``.part`` grows and is still kept;
3. a chunked transfer is cut short (``http.client.IncompleteRead``): the ``.part`` is kept;
4. a transfer without ``Content-Length`` that ends before the data set's known size:
   the ``.part`` is kept;
5. a complete transfer whose checksum is wrong: the ``.part`` is deleted, as before;
6-10. a tar archive whose symbolic links lead out of the folder, refused by histnet's
   own member check before anything is extracted: ``s -> .`` then ``t -> s/..``; a link
   to an absolute path; a link through another link (``deep/up -> ..``, then
   ``t -> deep/up/..``); ``t -> s/..`` listed before ``s -> .``; a link loop;
11. a file that is not an archive (an HTML error page with a matching checksum)
    where an archive is expected;
12-14. a symbolic link loop where the data set folder, the data root or the download
    folder should be (nothing is downloaded);
15. a file where the data set folder should be;
16. a dangling symbolic link where the data set folder should be.

The same checks on local files, without the CLI (not-an-archive, damaged archives,
link resolution), are in ``tests/test_data_download.py``.
"""

import hashlib
import io
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner

from histnet.data import download as dl
from histnet_cli.main import cli
from test_data_download import _cifar10_tar, _Handler, serve

ARCHIVE = "cifar-10-python.tar.gz"


class _FaultyHandler(_Handler):
    """``_Handler`` that can also cut a response short.

    ``cut_after[name]`` is a list of byte counts, one per request: the response
    announces its full ``Content-Length`` but only that many bytes are sent before the
    connection is closed. A name in ``chunked`` is sent with chunked transfer encoding
    instead, its one chunk never terminated; a name in ``no_length`` is sent without a
    ``Content-Length`` (the client reads until the connection closes).
    """

    cut_after: dict = {}
    chunked: set = set()
    no_length: set = set()

    def do_GET(self):  # noqa: N802
        name = self.path.lstrip("/")
        cuts = self.cut_after.get(name)
        if not cuts:
            return super().do_GET()
        n = cuts.pop(0)
        body = self.files[name]
        rng = self.headers.get("Range")
        self.log.append((name, rng))
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        part = body[start:]
        if name in self.chunked:
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n" % n + part[:n] + b"\r\n")  # no final 0-length chunk
        else:
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            if name not in self.no_length:
                self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            self.wfile.write(part[:n])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def server():
    """A loopback server (``_FaultyHandler``), stopped when the test ends."""
    yield from serve(type("H", (_FaultyHandler,), {"files": {}, "log": [], "honour_range": True,
                                                   "cut_after": {}, "chunked": set(), "no_length": set()}))


@pytest.fixture
def place(tmp_path):
    """``(root, outside)``: the data root, and a sibling folder no download may touch."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel.txt").write_text("keep me")
    return tmp_path / "root", outside


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def tree(folder) -> dict:
    """``{relative path: size, or "->target" for a link, or "dir"}``, links not followed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, folder)
            if os.path.islink(p):
                out[rel] = "->" + os.readlink(p)
            elif os.path.isdir(p):
                out[rel] = "dir"
            else:
                out[rel] = os.path.getsize(p)
    return out


def run_cli(root, base_url, name="cifar10"):
    """``histnet datasets download`` in a fresh process: ``(status, stdout, stderr)``."""
    p = subprocess.run([sys.executable, "-m", "histnet_cli", "datasets", "download", name,
                        "--root", str(root), "--base-url", base_url],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def invoke_cli(root, base_url, name="cifar10"):
    """The same command through click's ``CliRunner`` (in this process, so that a test can
    patch :data:`histnet.data.download.SOURCES`): ``(status, stdout, stderr)``."""
    r = CliRunner().invoke(cli, ["datasets", "download", name, "--root", str(root), "--base-url", base_url])
    return r.exit_code, r.stdout, r.stderr


def one_error_line(status, stdout, stderr) -> str:
    """Assert exit status 1 and exactly one line, ``Error: ...``, on stderr; return it."""
    assert status == 1, (status, stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


def with_checksum(monkeypatch, body: bytes) -> None:
    """Make cifar10's one archive the test's ``body``, checksum and all."""
    src = dl.SOURCES["cifar10"]
    monkeypatch.setitem(dl.SOURCES, "cifar10", dict(src, files=[
        dl.Resource(src["files"][0].url, md5=md5(body), archive=True)]))


# -- 1-5: transfers cut short are kept and resumed; only a wrong complete file is deleted -----------
def test_cut_connection_keeps_part_and_resumes(server, place, monkeypatch):
    root, outside = place
    body = _cifar10_tar()
    server.files[ARCHIVE] = body
    server.cut_after[ARCHIVE] = [20_000, 15_000]
    part = root / ".downloads" / "cifar10" / (ARCHIVE + ".part")

    line = one_error_line(*run_cli(root, server.base))  # case 1: a fresh process
    assert f"{ARCHIVE}: connection closed after 20000 of {len(body)} bytes; run the same command " \
           "again to resume" in line
    assert "checksum" not in line
    assert tree(root) == {".downloads": "dir", ".downloads/cifar10": "dir",
                          f".downloads/cifar10/{ARCHIVE}.part": 20_000}
    assert part.read_bytes() == body[:20_000]

    with_checksum(monkeypatch, body)
    line = one_error_line(*invoke_cli(root, server.base))  # case 2: the resume is cut too
    assert f"connection closed after 35000 of {len(body)} bytes" in line
    assert server.log[-1] == (ARCHIVE, "bytes=20000-")
    assert part.read_bytes() == body[:35_000]

    status, out, err = invoke_cli(root, server.base)  # and the third run completes it
    assert status == 0, err
    assert server.log[-1] == (ARCHIVE, "bytes=35000-")
    assert (root / "cifar10" / "cifar-10-batches-py" / "test_batch").is_file()
    assert not (root / ".downloads").exists()
    assert tree(outside) == {"sentinel.txt": 7}


def test_cut_chunked_transfer_keeps_part(server, place):
    root, outside = place
    body = np.random.default_rng(1).bytes(30_000)
    server.files[ARCHIVE] = body
    server.cut_after[ARCHIVE] = [12_000]
    server.chunked.add(ARCHIVE)
    line = one_error_line(*run_cli(root, server.base))  # case 3
    assert ARCHIVE in line and "connection closed after 12000 bytes; run the same command again " \
        "to resume" in line
    assert (root / ".downloads" / "cifar10" / (ARCHIVE + ".part")).read_bytes() == body[:12_000]
    assert tree(outside) == {"sentinel.txt": 7}


def test_transfer_without_length_shorter_than_known_size_is_kept(server, place, monkeypatch):
    root, outside = place
    body = np.random.default_rng(2).bytes(40_000)
    server.files[ARCHIVE] = body
    server.cut_after[ARCHIVE] = [25_000]
    server.no_length.add(ARCHIVE)
    src = dl.SOURCES["cifar10"]
    monkeypatch.setitem(dl.SOURCES, "cifar10", dict(src, files=[
        dl.Resource(src["files"][0].url, md5=md5(body), size=len(body), archive=True)]))
    line = one_error_line(*invoke_cli(root, server.base))  # case 4
    assert f"{ARCHIVE}: connection closed after 25000 of 40000 bytes; run the same command" in line
    assert (root / ".downloads" / "cifar10" / (ARCHIVE + ".part")).read_bytes() == body[:25_000]
    assert tree(outside) == {"sentinel.txt": 7}


def test_complete_transfer_with_wrong_checksum_deletes_part(server, place):
    root, outside = place
    server.files[ARCHIVE] = b"a whole file, but not CIFAR-10"
    line = one_error_line(*run_cli(root, server.base))  # case 5: the official MD5 does not match
    assert f"{ARCHIVE} (from {server.base}/{ARCHIVE}): md5 checksum mismatch" in line
    assert tree(root) == {".downloads": "dir", ".downloads/cifar10": "dir"}
    assert tree(outside) == {"sentinel.txt": 7}


# -- 6-10: archives whose links lead out of the folder --------------------------------------------------
def _links_tar(links, payload=None) -> bytes:
    """A tar.gz with one real file, then the ``(name, target)`` symbolic links in order,
    then ``payload`` (a file name written through the links), if any."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        ok = tarfile.TarInfo("cifar-10-batches-py/readme.txt")
        ok.size = 2
        t.addfile(ok, io.BytesIO(b"ok"))
        for name, target in links:
            info = tarfile.TarInfo(name)
            if target is None:
                info.type = tarfile.DIRTYPE
            else:
                info.type, info.linkname = tarfile.SYMTYPE, target
            t.addfile(info)
        if payload:
            info = tarfile.TarInfo(payload)
            info.size = 4
            t.addfile(info, io.BytesIO(b"evil"))
    return buf.getvalue()


@pytest.mark.parametrize("links,payload,member,why", [
    ([("s", "."), ("t", "s/..")], "t/evil.txt", "t", "link 's/..' points outside the folder "
                                                      "(through the link 's' -> '.')"),
    ([("abs", "/etc")], "abs/evil.txt", "abs", "link to absolute path '/etc'"),
    ([("deep", None), ("deep/up", ".."), ("t", "deep/up/..")], "t/evil.txt", "t",
     "link 'deep/up/..' points outside the folder (through the link 'deep/up' -> '..')"),
    ([("t", "s/.."), ("s", ".")], None, "t", "link 's/..' points outside the folder "
                                            "(through the link 's' -> '.')"),
    ([("a", "b"), ("b", "a")], "a/evil.txt", "b", "link 'a' goes through a symbolic link loop"),
], ids=["dot-then-dotdot", "absolute", "through-another-link", "link-defined-later", "loop"])
def test_archive_with_escaping_links_refused(server, place, monkeypatch, links, payload, member, why):
    root, outside = place
    body = _links_tar(links, payload)
    server.files[ARCHIVE] = body
    with_checksum(monkeypatch, body)
    line = one_error_line(*invoke_cli(root, server.base))
    assert line == f"Error: {root / '.downloads' / 'cifar10' / ARCHIVE}: refusing member {member!r}: {why}"
    # the verified download is kept; nothing was extracted, no temporary folder is left
    assert tree(root) == {".downloads": "dir", ".downloads/cifar10": "dir",
                          f".downloads/cifar10/{ARCHIVE}": len(body)}
    assert tree(outside) == {"sentinel.txt": 7}
    assert sorted(os.listdir(root.parent)) == ["outside", "root"]


# -- 11: not an archive ---------------------------------------------------------------------------------
def test_file_that_is_not_an_archive(server, place, monkeypatch):
    root, outside = place
    page = b"<!DOCTYPE html>\n<html><body><h1>503 Service Unavailable</h1></body></html>\n"
    server.files[ARCHIVE] = page
    with_checksum(monkeypatch, page)
    line = one_error_line(*invoke_cli(root, server.base))
    archive = root / ".downloads" / "cifar10" / ARCHIVE
    assert line.startswith(f"Error: {archive} is not a tar/zip archive (it is an HTML/XML page")
    assert tree(root) == {".downloads": "dir", ".downloads/cifar10": "dir",
                          f".downloads/cifar10/{ARCHIVE}": len(page)}
    assert tree(outside) == {"sentinel.txt": 7}


# -- 12-16: the folders a download uses ---------------------------------------------------------------
@pytest.mark.parametrize("where", ["cifar10", ".", ".downloads"], ids=["dataset-folder", "root", "downloads"])
def test_symlink_loop_in_the_folders(server, place, where):
    root, outside = place
    server.files[ARCHIVE] = b"never asked for"
    if where == ".":
        root.parent.joinpath("loop").symlink_to(root.parent / "loop")
        root = root.parent / "loop" / "root"
        looped = root.parent
    else:
        root.mkdir()
        looped = root / where
        looped.symlink_to(looped)
    before = tree(root.parent)
    line = one_error_line(*run_cli(root, server.base))
    assert line.startswith(f"Error: {looped if where != '.' else root}: symbolic link loop")
    assert "Errno" not in line
    assert server.log == []  # refused before anything was downloaded
    assert tree(root.parent) == before and tree(outside) == {"sentinel.txt": 7}


def test_file_or_dangling_link_as_dataset_folder(server, place):
    root, outside = place
    server.files[ARCHIVE] = b"never asked for"
    root.mkdir()
    (root / "cifar10").write_text("not a folder")
    line = one_error_line(*run_cli(root, server.base))  # case 15
    assert line == (f"Error: {root / 'cifar10'}: the cifar10 folder is a file, not a folder; "
                    "move it away or choose another root")
    (root / "cifar10").unlink()
    (root / "cifar10").symlink_to(outside / "missing")
    line = one_error_line(*run_cli(root, server.base))  # case 16
    assert line.startswith(f"Error: {root / 'cifar10'}: the cifar10 folder is a symbolic link to ")
    assert "which does not exist" in line
    assert server.log == []
    assert tree(root) == {"cifar10": f"->{outside / 'missing'}"}
    assert tree(outside) == {"sentinel.txt": 7}

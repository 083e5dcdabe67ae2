"""Downloads from a loopback HTTP server (Range support, checksums, progress) and safe extraction."""

import hashlib
import http.server
import io
import pickle
import tarfile
import threading
import zipfile

import numpy as np
import pytest

from histnet.data import catalog, load_splits
from histnet.data import download as dl
from histnet.errors import DataError, DownloadError


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    log: list = []
    honour_range = True

    def do_GET(self):  # noqa: N802
        name = self.path.lstrip("/")
        self.log.append((name, self.headers.get("Range")))
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        rng = self.headers.get("Range")
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            part = body[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            self.wfile.write(part)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(handler):
    """Serve ``handler`` (a handler class) on a loopback port until the generator is closed;
    yields it with ``handler.base`` set to the server's address."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.timeout = 5
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    handler.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(timeout=10)


@pytest.fixture
def server():
    yield from serve(type("H", (_Handler,), {"files": {}, "log": [], "honour_range": True}))


def md5(b):
    return hashlib.md5(b).hexdigest()


def test_download_verifies_and_reports_progress(server, tmp_path):
    body = bytes(range(256)) * 1000
    server.files["f.bin"] = body
    events = []
    p = dl.download_file(server.base + "/f.bin", tmp_path / "f.bin", md5=md5(body),
                         sha256=hashlib.sha256(body).hexdigest(), progress=events.append, chunk=10000)
    assert p.read_bytes() == body and not (tmp_path / "f.bin.part").exists()
    assert events[-1].step == events[-1].total == len(body) and len(events) > 5
    # Already there and valid: no new request.
    n = len(server.log)
    dl.download_file(server.base + "/f.bin", tmp_path / "f.bin", md5=md5(body))
    assert len(server.log) == n


def test_resume_with_range(server, tmp_path):
    body = np.random.default_rng(0).bytes(50_000)
    server.files["big.tar.gz"] = body
    (tmp_path / "big.tar.gz.part").write_bytes(body[:12_345])
    events = []
    dl.download_file(server.base + "/big.tar.gz", tmp_path / "big.tar.gz", md5=md5(body), progress=events.append)
    assert (tmp_path / "big.tar.gz").read_bytes() == body
    assert server.log[-1] == ("big.tar.gz", "bytes=12345-")
    assert events[0].step > 12_345 and events[-1].total == 50_000
    # A server that ignores Range answers 200: the file restarts from zero and is still right.
    server.honour_range = False
    (tmp_path / "again.part").write_bytes(b"garbage that is not a prefix")
    dl.download_file(server.base + "/big.tar.gz", tmp_path / "again", md5=md5(body))
    assert (tmp_path / "again").read_bytes() == body
    # A complete .part (server answers 416) is verified and kept.
    server.honour_range = True
    (tmp_path / "whole.part").write_bytes(body)
    dl.download_file(server.base + "/big.tar.gz", tmp_path / "whole", md5=md5(body))
    assert (tmp_path / "whole").read_bytes() == body


def test_checksum_mismatch_and_http_errors(server, tmp_path):
    server.files["x.zip"] = b"hello"
    with pytest.raises(DownloadError, match=r"x\.zip \(from http.*md5 checksum mismatch: got 5d41"):
        dl.download_file(server.base + "/x.zip", tmp_path / "x.zip", md5="0" * 32)
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()
    with pytest.raises(DownloadError, match="HTTP 404"):
        dl.download_file(server.base + "/missing", tmp_path / "m", md5="0" * 32)
    with pytest.raises(DownloadError, match="size 5 bytes, expected 6"):
        dl.download_file(server.base + "/x.zip", tmp_path / "y", size=6)


def _cifar10_tar() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        def add(name, obj):
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            add(name, {b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), b"labels": [0, 1, 9]})
        add("batches.meta", {b"label_names": [b"c%d" % i for i in range(10)]})
    return buf.getvalue()


def test_catalog_download_cifar10_from_mirror(server, tmp_path, monkeypatch):
    archive = _cifar10_tar()
    server.files["cifar-10-python.tar.gz"] = archive
    src = dict(dl.SOURCES["cifar10"])
    src["files"] = [dl.Resource(src["files"][0].url, md5=md5(archive), archive=True)]
    monkeypatch.setitem(dl.SOURCES, "cifar10", src)
    events = []
    folder = catalog.download("cifar10", root=tmp_path, progress=events.append, base_url=server.base)
    assert folder == tmp_path / "cifar10" and (folder / "cifar-10-batches-py" / "test_batch").is_file()
    assert events[-1].step == len(archive)
    assert not (tmp_path / ".downloads").exists()
    s = load_splits("cifar10", root=tmp_path)
    assert (len(s.train), len(s.test)) == (15, 3)
    assert {r["name"]: r["present"] for r in catalog.list_datasets(root=tmp_path)}["cifar10"]
    # The official checksum does not match the test archive: refused, nothing installed.
    monkeypatch.setitem(dl.SOURCES, "cifar100", dict(dl.SOURCES["cifar100"]))
    server.files["cifar-100-python.tar.gz"] = archive
    with pytest.raises(DownloadError, match="checksum mismatch"):
        catalog.download("cifar100", root=tmp_path, base_url=server.base)
    assert not (tmp_path / "cifar100").exists()


def test_download_mnist_files_from_mirror(server, tmp_path, monkeypatch):
    import gzip
    import struct

    res = []
    for stem, shape in (("train-images-idx3-ubyte", (4, 28, 28)), ("train-labels-idx1-ubyte", (4,)),
                        ("t10k-images-idx3-ubyte", (2, 28, 28)), ("t10k-labels-idx1-ubyte", (2,))):
        raw = struct.pack(">HBB", 0, 8, len(shape)) + b"".join(struct.pack(">I", d) for d in shape)
        raw += bytes(int(np.prod(shape)))
        body = gzip.compress(raw)
        server.files[stem + ".gz"] = body
        res.append(dl.Resource("http://example.invalid/" + stem + ".gz", md5=md5(body)))
    monkeypatch.setitem(dl.SOURCES, "mnist", dict(dl.SOURCES["mnist"], files=res))
    folder = catalog.download("mnist", root=tmp_path, base_url=server.base)
    assert sorted(p.name for p in folder.iterdir())[0] == "t10k-images-idx3-ubyte.gz"
    assert len(load_splits("mnist", root=tmp_path).train) == 4


# -- unsafe archives ---------------------------------------------------------------------------------
def _tar_with(path, kind):
    with tarfile.open(path, "w") as t:
        ok = tarfile.TarInfo("data/ok.txt")
        ok.size = 2
        t.addfile(ok, io.BytesIO(b"ok"))
        if kind in ("dotdot", "absolute"):
            info = tarfile.TarInfo("data/../../evil.txt" if kind == "dotdot" else "/tmp/histnet-evil.txt")
            info.size = 4
            t.addfile(info, io.BytesIO(b"evil"))
        elif kind == "symlink":
            info = tarfile.TarInfo("data/link")
            info.type, info.linkname = tarfile.SYMTYPE, "../../outside"
            t.addfile(info)
        elif kind == "symlink_abs":
            info = tarfile.TarInfo("data/link")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            t.addfile(info)
        elif kind == "hardlink":
            info = tarfile.TarInfo("data/hard")
            info.type, info.linkname = tarfile.LNKTYPE, "../outside"
            t.addfile(info)
        elif kind == "device":
            info = tarfile.TarInfo("data/dev")
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            t.addfile(info)
        elif kind == "fifo":
            info = tarfile.TarInfo("data/fifo")
            info.type = tarfile.FIFOTYPE
            t.addfile(info)


@pytest.mark.parametrize("kind,why", [
    ("dotdot", "'..' in the path"), ("absolute", "absolute path"), ("symlink", "points outside"),
    ("symlink_abs", "link to absolute path"), ("hardlink", "points outside"), ("device", "device"),
    ("fifo", "FIFO"),
])
def test_unsafe_tar_members_refused(tmp_path, kind, why):
    arc = tmp_path / "a.tar"
    _tar_with(arc, kind)
    dest = tmp_path / "work" / "out"
    dest.parent.mkdir()
    with pytest.raises(DataError, match=rf"a\.tar: refusing member .*{why}"):
        dl.safe_extract(arc, dest)
    assert not dest.exists() and not list((tmp_path / "work").iterdir())  # nothing extracted at all
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "work" / "evil.txt").exists()


def test_unsafe_zip_members_refused(tmp_path):
    arc = tmp_path / "a.zip"
    with zipfile.ZipFile(arc, "w") as z:
        z.writestr("data/ok.txt", "ok")
        z.writestr("data/../../evil.txt", "evil")
    with pytest.raises(DataError, match=r"a\.zip: refusing member 'data/\.\./\.\./evil\.txt'"):
        dl.safe_extract(arc, tmp_path / "w" / "out")
    assert not (tmp_path / "w").exists() and not (tmp_path / "evil.txt").exists()
    link = tmp_path / "l.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("data/link")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        dl.safe_extract(link, tmp_path / "w2")


def test_safe_archive_extracts_with_inside_links(tmp_path):
    arc = tmp_path / "good.tar.gz"
    with tarfile.open(arc, "w:gz") as t:
        f = tarfile.TarInfo("top/a/file.txt")
        f.size = 3
        t.addfile(f, io.BytesIO(b"abc"))
        s = tarfile.TarInfo("top/b/link")
        s.type, s.linkname = tarfile.SYMTYPE, "../a/file.txt"
        t.addfile(s)
    out = dl.safe_extract(arc, tmp_path / "x")
    assert (out / "top" / "b" / "link").read_bytes() == b"abc"
    with pytest.raises(DataError, match="already exists"):
        dl.safe_extract(arc, tmp_path / "x")


# -- links resolved through other links; files that are not archives ------------------------------------
def _links_tar(path, entries):
    """A tar whose ``entries`` are ``(name, None)`` folders, ``(name, "->target")`` symbolic
    links or ``(name, bytes)`` files, in that order."""
    with tarfile.open(path, "w") as t:
        for name, what in entries:
            info = tarfile.TarInfo(name)
            if what is None:
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif isinstance(what, str):
                info.type, info.linkname = tarfile.SYMTYPE, what[2:]
                t.addfile(info)
            else:
                info.size = len(what)
                t.addfile(info, io.BytesIO(what))


@pytest.mark.parametrize("entries,member,why", [
    ([("s", "->."), ("t", "->s/..")], "t", r"link 's/\.\.' points outside the folder \(through the link 's'"),
    ([("d", None), ("d/up", "->.."), ("t", "->d/up/..")], "t", "points outside the folder"),
    ([("t", "->s/.."), ("s", "->.")], "t", "points outside the folder"),  # the link is read after both exist
    ([("s", "->."), ("s/x", b"ok"), ("t", "->s/s/s/..")], "t", "points outside the folder"),
    ([("a", "->b"), ("b", "->a")], "b", "symbolic link loop"),
    ([("a", "->a/x")], "a", "symbolic link loop"),
    ([("d", None), ("d/l", "->/etc")], "d/l", "link to absolute path"),
])
def test_links_resolved_through_other_links(tmp_path, entries, member, why):
    arc = tmp_path / "a.tar"
    _links_tar(arc, entries)
    with pytest.raises(DataError, match=rf"^{tmp_path}/a\.tar: refusing member '{member}': .*{why}") as e:
        dl.check_archive(arc)
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="refusing member"):
        dl.safe_extract(arc, tmp_path / "work" / "out")
    assert not (tmp_path / "work").exists()  # refused before anything was extracted


def test_links_that_stay_inside_are_extracted(tmp_path):
    # a link to a folder earlier in the archive, used as a path and as another link's target
    arc = tmp_path / "good.tar"
    _links_tar(arc, [("top/a", None), ("top/a/f.txt", b"abc"), ("top/l", "->a"), ("top/m", "->l/f.txt"),
                     ("top/up", "->l/.."), ("top/l/g.txt", b"def"), ("here", "->.")])
    assert dl.check_archive(arc)[-1] == "here"
    out = dl.safe_extract(arc, tmp_path / "x")
    assert (out / "top" / "m").read_bytes() == b"abc" and (out / "top" / "a" / "g.txt").read_bytes() == b"def"


@pytest.mark.parametrize("content,why", [
    (b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n",
     r"is not a tar/zip archive \(it is an HTML"),
    (b"", r"is not a tar/zip archive \(it is empty\)"),
    (b"just some text\nover two lines\n", r"is not a tar/zip archive \(it starts with b'just some text"),
    ("truncated-gz", r": damaged tar archive \(.*\); delete it and download it again"),
    ("truncated-zip", r" is a damaged archive \(it starts as zip, but no tar or zip can be read from it\)"),
])
def test_not_an_archive_is_one_line(tmp_path, content, why):
    arc = tmp_path / "data.tar.gz"
    if content == "truncated-gz":
        full = io.BytesIO()
        with tarfile.open(fileobj=full, mode="w:gz") as t:
            info = tarfile.TarInfo("x.bin")
            data = np.random.default_rng(0).bytes(200_000)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        content = full.getvalue()[:50_000]
    elif content == "truncated-zip":
        arc = tmp_path / "data.zip"
        full = io.BytesIO()
        with zipfile.ZipFile(full, "w") as z:
            z.writestr("x.bin", np.random.default_rng(0).bytes(50_000))
        content = full.getvalue()[:-10]  # the end-of-archive record cut
    arc.write_bytes(content)
    for check in (dl.check_archive, lambda a: dl.safe_extract(a, tmp_path / "w" / "out")):
        with pytest.raises(DataError, match=rf"^{tmp_path}/{arc.name}:? ?{why}") as e:
            check(arc)
        assert "\n" not in str(e.value)
    assert not (tmp_path / "w").exists()

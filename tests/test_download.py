"""Real-dataset downloads against a local HTTP server and fake archives: checksums, truncated
transfers and resume, path traversal, links, offline and manual datasets, and loading."""
import dataclasses
import gzip
import hashlib
import http.server
import io
import os
import stat
import struct
import tarfile
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from gancourse import data
from gancourse.data import download as dl


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (name -> bytes) with range support; ``/cut/NAME`` stops halfway."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Range")))
        cut = self.path.startswith("/cut/")
        name = self.path.removeprefix("/cut/").lstrip("/")
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and self.server.ranges:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        self.wfile.write(payload[:len(payload) // 2] if cut else payload)
        self.wfile.flush()
        if cut:
            self.close_connection = True


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.files, srv.requests, srv.ranges = {}, [], True
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"
    yield srv
    srv.shutdown()
    srv.server_close()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_download_verifies_and_leaves_no_part_file(server, tmp_path):
    body = os.urandom(300_000)
    server.files["a.bin"] = body
    path = dl.download_file(server.url + "a.bin", tmp_path / "a.bin", sha256=sha(body), size=len(body))
    assert path.read_bytes() == body and sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    n = len(server.requests)
    dl.download_file(server.url + "a.bin", tmp_path / "a.bin", sha256=sha(body))
    assert len(server.requests) == n, "a verified file is not downloaded again"


def test_a_checksum_mismatch_is_an_error_and_nothing_is_kept(server, tmp_path):
    server.files["a.bin"] = b"the wrong content"
    with pytest.raises(dl.ChecksumMismatchError, match=r"a.bin: the downloaded file is not the expected one.*SHA256"):
        dl.download_file(server.url + "a.bin", tmp_path / "a.bin", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(dl.ChecksumMismatchError, match="17 bytes, expected 18"):
        dl.download_file(server.url + "a.bin", tmp_path / "a.bin", size=18)
    # a complete file changed later is refused, with what to do
    (tmp_path / "b.bin").write_bytes(b"edited")
    with pytest.raises(dl.ChecksumMismatchError, match="b.bin: MD5 .* does not match.*delete it to download it again"):
        dl.download_file(server.url + "a.bin", tmp_path / "b.bin", md5="0" * 32)


def test_a_truncated_transfer_is_never_taken_for_complete_and_is_resumed(server, tmp_path):
    body = os.urandom(200_000)
    server.files["a.bin"] = body
    with pytest.raises(dl.DownloadError, match=r"(incomplete download|interrupted).*a.bin.part is kept"):
        dl.download_file(server.url + "cut/a.bin", tmp_path / "a.bin", sha256=sha(body))
    assert not (tmp_path / "a.bin").exists()
    partial = (tmp_path / "a.bin.part").stat().st_size
    assert 0 < partial < len(body)
    dl.download_file(server.url + "a.bin", tmp_path / "a.bin", sha256=sha(body))
    assert (tmp_path / "a.bin").read_bytes() == body and not (tmp_path / "a.bin.part").exists()
    assert server.requests[-1] == ("/a.bin", f"bytes={partial}-"), "the second call resumes with a range request"


def test_a_server_without_ranges_restarts_from_zero(server, tmp_path):
    body = os.urandom(50_000)
    server.files["a.bin"], server.ranges = body, False
    (tmp_path / "a.bin.part").write_bytes(b"stale bytes from another file")
    dl.download_file(server.url + "a.bin", tmp_path / "a.bin", sha256=sha(body))
    assert (tmp_path / "a.bin").read_bytes() == body
    src = tmp_path / "src.bin"
    src.write_bytes(body)
    (tmp_path / "c.bin.part").write_bytes(b"junk")
    dl.download_file(src.as_uri(), tmp_path / "c.bin", sha256=sha(body))  # file:// ignores ranges too
    assert (tmp_path / "c.bin").read_bytes() == body


def test_no_published_checksum_records_one_on_first_use(server, tmp_path):
    server.files["a.bin"] = b"first version"
    path = dl.download_file(server.url + "a.bin", tmp_path / "a.bin")
    assert (tmp_path / "a.bin.sha256").read_text().split()[0] == sha(b"first version")
    path.write_bytes(b"changed later")
    with pytest.raises(dl.ChecksumMismatchError, match="a.bin: SHA256 .* does not match"):
        dl.download_file(server.url + "a.bin", path)


def test_offline_gives_one_clear_message_with_dataset_url_and_folder(tmp_path, monkeypatch):
    entry = dl.REAL_DATASETS["mnist"]
    dead = tuple(dataclasses.replace(f, url="http://127.0.0.1:9/" + f.name) for f in entry.files)
    monkeypatch.setitem(dl.REAL_DATASETS, "mnist", dataclasses.replace(entry, files=dead))
    monkeypatch.setenv(dl.DATASETS_ENV, str(tmp_path))
    t0 = time.perf_counter()
    with pytest.raises(dl.DatasetUnavailableError) as err:
        data.fetch("mnist", timeout=2)
    assert time.perf_counter() - t0 < 10
    msg = str(err.value)
    assert isinstance(err.value, RuntimeError) and err.value.dataset == "mnist"
    assert "mnist: download failed" in msg and "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg
    assert f"into {tmp_path / 'mnist'}" in msg and "Offline?" in msg
    assert err.value.folder == tmp_path / "mnist"
    with pytest.raises(dl.DatasetUnavailableError, match=r"mnist: not found in .*fetch\('mnist'\)"):
        data.load_real("mnist")


def idx_gz(array, magic_dims):
    header = struct.pack(">BBBB", 0, 0, 8, magic_dims) + b"".join(struct.pack(">I", d) for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fetch_and_load_mnist_from_a_local_mirror(server, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    blobs = {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (12, 28, 28)), 3),
        "train-labels-idx1-ubyte.gz": idx_gz(np.arange(12) % 10, 1),
        "t10k-images-idx3-ubyte.gz": idx_gz(np.full((5, 28, 28), 255), 3),
        "t10k-labels-idx1-ubyte.gz": idx_gz(np.arange(5), 1),
    }
    server.files.update(blobs)
    files = tuple(dl.RemoteFile(n, server.url + n, sha256=sha(b), size=len(b)) for n, b in blobs.items())
    monkeypatch.setitem(dl.REAL_DATASETS, "mnist", dataclasses.replace(dl.REAL_DATASETS["mnist"], files=files))
    folder = data.fetch("mnist", tmp_path / "mnist", progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(blobs)
    train = data.load_real("mnist", folder, split="train", size=32)
    assert train.images.shape == (12, 1, 32, 32) and train.labels.tolist() == [i % 10 for i in range(12)]
    assert train.images.min() >= -1 and train.images.max() <= 1
    test = data.load_real("mnist", folder, split="test", channels=3)
    assert test.images.shape == (5, 3, 28, 28) and (test.images == 1).all()
    n = len(server.requests)
    data.fetch("mnist", folder)
    assert len(server.requests) == n, "a ready dataset is not downloaded again"
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(blobs["t10k-images-idx3-ubyte.gz"][:40])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: cannot be read .*truncated"):
        data.load_real("mnist", folder, split="test")


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def make_tar(path, members):
    """``members``: name -> bytes, or name -> ("sym" | "hard" | "dev", target)."""
    with tarfile.open(path, "w:gz") as tf:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(payload, tuple):
                kind, target = payload
                info.type = {"sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "dev": tarfile.CHRTYPE}[kind]
                info.linkname = target
                tf.addfile(info)
            else:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
    return path


def jpeg_bytes(value, size=(24, 24)):
    buf = io.BytesIO()
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("bad_name, why", [("../evil.txt", r"'\.\.' escapes"), ("/etc/x", "absolute path"),
                                            ("ok/../../evil.txt", r"'\.\.' escapes"), ("C:/evil.txt", "absolute")])
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_path_traversal_members_are_refused_and_nothing_is_extracted(tmp_path, bad_name, why, kind):
    members = {"data/a.txt": b"fine", bad_name: b"evil"}
    archive = (make_zip if kind == "zip" else make_tar)(tmp_path / f"x.{kind}", members)
    target = tmp_path / "target"
    with pytest.raises(dl.UnsafeArchiveError, match=f"member '{bad_name}' refused .*{why}.*nothing was extracted"):
        dl.extract_archive(archive, target)
    assert list(target.iterdir()) == [] and not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("members, message", [
    ({"d/link": ("sym", "../../outside")}, "is a symbolic link to '../../outside'; archives holding links are refused"),
    ({"d/link": ("sym", "/etc/passwd")}, "is a symbolic link to '/etc/passwd'; archives holding links"),
    ({"d/hard": ("hard", "../outside")}, "is a hard link to '../outside'; archives holding links"),
    ({"d/sub/link": ("sym", "../a.txt")}, "is a symbolic link to '../a.txt'; archives holding links"),
    ({"d/tty": ("dev", "")}, "device or special file"),
])
def test_tar_links_and_devices_are_refused(tmp_path, members, message):
    archive = make_tar(tmp_path / "x.tar.gz", {"d/a.txt": b"fine", **members})
    with pytest.raises(dl.UnsafeArchiveError, match=message):
        dl.extract_archive(archive, tmp_path / "t")
    assert list((tmp_path / "t").iterdir()) == []


def zip_with_links(path, members):
    """``members``: name -> bytes, or name -> ("sym", target) stored as a zip symlink."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            if isinstance(payload, tuple):
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, payload[1])
            else:
                zf.writestr(name, payload)
    return path


# A chain of links, each of which stays inside on paper (checked without following the links
# already extracted), then a file written through the last one: d -> ., d/e -> ., d/e/x/l ->
# ../../.. (on paper d/e/x/../../.. = d/.. = the target; on disk d/e/x is <target>/x, so
# d/e/x/l is <target>/x/l -> <target>/../..), then l/escaped.txt.
CHAIN = {"x/": b"", "d": ("sym", "."), "d/e": ("sym", "."), "d/e/x/l": ("sym", "../../.."),
         "d/e/x/l/escaped.txt": b"overwritten"}


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_chain_of_links_cannot_write_outside_even_without_the_tar_filter(tmp_path, kind, monkeypatch):
    """Before the fix, the zip above wrote ``escaped.txt`` two levels above the target folder."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)      # as on Python 3.10.0-3.10.11, 3.11.0-3.11.3
    base = tmp_path / "home" / "user"
    target = base / "datasets" / "celeba"
    if kind == "zip":
        archive = zip_with_links(tmp_path / "evil.zip", CHAIN)
    else:
        archive = make_tar(tmp_path / "evil.tar.gz", {k: v for k, v in CHAIN.items() if k != "x/"})
    with pytest.raises(dl.UnsafeArchiveError, match="is a (symbolic )?link to '.'; archives holding links are refused"):
        dl.extract_archive(archive, target)
    assert list(target.iterdir()) == []
    assert not list(tmp_path.rglob("escaped.txt")), "a file was written through the links"


def test_fetch_refuses_a_chained_link_zip_placed_by_hand(tmp_path, monkeypatch):
    """The attack through the documented path: a CelebA zip put where README says."""
    monkeypatch.setenv(dl.DATASETS_ENV, str(tmp_path / "cache" / "datasets"))
    victim = tmp_path / "cache" / "precious.txt"
    victim.parent.mkdir(parents=True)
    victim.write_text("mine")
    folder = dl.dataset_folder("celeba")
    folder.mkdir(parents=True)
    # one link more than CHAIN climbs one level more: from the staging folder inside celeba/ to cache/
    chain = {"x/": b"", "d": ("sym", "."), "d/e": ("sym", "."), "d/e/f": ("sym", "."),
             "d/e/f/x/l": ("sym", "../../../.."), "d/e/f/x/l/precious.txt": b"overwritten"}
    zip_with_links(folder / "img_align_celeba.zip", chain)
    with pytest.raises(dl.UnsafeArchiveError, match="archives holding links are refused"):
        data.fetch("celeba")
    assert victim.read_text() == "mine"
    assert sorted(p.name for p in folder.iterdir()) == ["img_align_celeba.zip", "img_align_celeba.zip.sha256"]


def test_zip_symlinks_devices_and_bombs_are_refused(tmp_path):
    archive = zip_with_links(tmp_path / "x.zip", {"d/link": ("sym", "../../etc")})
    with pytest.raises(dl.UnsafeArchiveError, match="is a link to '../../etc'; archives holding links are refused"):
        dl.extract_archive(archive, tmp_path / "t")
    fifo = tmp_path / "fifo.zip"
    with zipfile.ZipFile(fifo, "w") as zf:
        info = zipfile.ZipInfo("d/pipe")
        info.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(info, b"")
    with pytest.raises(dl.UnsafeArchiveError, match="device or special file"):
        dl.extract_archive(fifo, tmp_path / "t")
    bomb = make_zip(tmp_path / "bomb.zip", {"big.bin": b"\0" * 100_000})
    with pytest.raises(dl.UnsafeArchiveError, match="would unpack to 100000 bytes, more than max_bytes=1000"):
        dl.extract_archive(bomb, tmp_path / "t", max_bytes=1000)
    assert list((tmp_path / "t").iterdir()) == []


def test_a_tar_member_that_understates_its_size_is_caught_while_writing(tmp_path):
    """The bytes written count, not the sizes the archive declares (here the plan is fooled)."""
    archive = make_tar(tmp_path / "x.tar.gz", {"a.bin": b"\1" * 5000, "b.bin": b"\2" * 5000})
    with pytest.raises(dl.UnsafeArchiveError, match="more than max_bytes=6000"):
        dl._write_members([dl._Member("a.bin", ("a.bin",), False, 10, None),
                           dl._Member("b.bin", ("b.bin",), False, 10, None)],
                          lambda _: io.BytesIO(b"\1" * 5000), tmp_path, archive, 6000)


def test_safe_archives_extract_and_refuse_to_overwrite(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", {"d/a.txt": b"A", "d/sub/b.txt": b"B", "./d/sub/c.txt": b"C"})
    placed = dl.extract_archive(archive, tmp_path / "t")
    assert placed == [tmp_path / "t" / "d"] and (tmp_path / "t" / "d" / "sub" / "b.txt").read_bytes() == b"B"
    assert (tmp_path / "t" / "d" / "sub" / "c.txt").read_bytes() == b"C"
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["d"], "no staging folder left behind"
    with pytest.raises(FileExistsError, match="already holds d; remove it"):
        dl.extract_archive(archive, tmp_path / "t")
    raw = (tmp_path / "ok.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(dl.UnsafeArchiveError, match="damaged or truncated archive"):
        dl.extract_archive(tmp_path / "cut.tar.gz", tmp_path / "t2")
    assert list((tmp_path / "t2").iterdir()) == []
    z = make_zip(tmp_path / "ok.zip", {"top/": b"", "top/x/y.txt": b"Y"})
    assert dl.extract_archive(z, tmp_path / "t3") == [tmp_path / "t3" / "top"]
    assert (tmp_path / "t3" / "top" / "x" / "y.txt").read_bytes() == b"Y"


def test_fetch_and_load_the_image_datasets_from_a_local_mirror(server, tmp_path, monkeypatch):
    h2z = {f"horse2zebra/{d}/{k}.jpg": jpeg_bytes(40 * k) for d in ("trainA", "trainB", "testA", "testB")
           for k in range(3)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, payload in h2z.items():
            zf.writestr(name, payload)
    server.files["horse2zebra.zip"] = buf.getvalue()
    facades = {f"facades/{s}/{k}.jpg": jpeg_bytes(200, (16, 32)) for s in ("train", "val", "test") for k in range(2)}
    make_tar(tmp_path / "facades.tar.gz", facades)
    server.files["facades.tar.gz"] = (tmp_path / "facades.tar.gz").read_bytes()
    for name in ("horse2zebra", "facades"):
        entry = dl.REAL_DATASETS[name]
        files = tuple(dataclasses.replace(f, url=server.url + f.name) for f in entry.files)
        monkeypatch.setitem(dl.REAL_DATASETS, name, dataclasses.replace(entry, files=files))
    monkeypatch.setenv(dl.DATASETS_ENV, str(tmp_path / "datasets"))
    horses, zebras = data.load_real("horse2zebra", download=True, size=16)
    assert len(horses) == len(zebras) == 3 and horses[0][0].shape == (3, 16, 16)
    assert (tmp_path / "datasets" / "horse2zebra" / "horse2zebra.zip.sha256").is_file()
    inner = tmp_path / "datasets" / "horse2zebra" / "horse2zebra"
    a, _ = data.load_real("horse2zebra", inner, split="test", size=16)  # the unpacked folder itself
    assert len(a) == 3
    pairs = data.load_real("facades", download=True, split="val", size=8, channels=1)
    photo, labels = pairs[0]
    assert len(pairs) == 2 and photo.shape == labels.shape == (1, 8, 8)


def test_a_truncated_archive_without_checksum_is_not_kept(server, tmp_path, monkeypatch):
    payload = make_tar(tmp_path / "f.tar.gz", {f"facades/{s}/0.jpg": jpeg_bytes(9) for s in ("train", "val", "test")})
    raw = payload.read_bytes()
    server.files["facades.tar.gz"] = raw[:len(raw) // 2]  # a server that sends a short file and says so
    entry = dl.REAL_DATASETS["facades"]
    monkeypatch.setitem(dl.REAL_DATASETS, "facades", dataclasses.replace(
        entry, files=(dataclasses.replace(entry.files[0], url=server.url + "facades.tar.gz"),)))
    with pytest.raises(dl.UnsafeArchiveError, match="facades.tar.gz: damaged or truncated archive"):
        data.fetch("facades", tmp_path / "facades", progress=False)
    assert sorted(p.name for p in (tmp_path / "facades").iterdir()) == []


def test_manual_datasets_say_where_to_put_the_files_then_use_them(tmp_path):
    folder = tmp_path / "celeba"
    with pytest.raises(dl.DatasetUnavailableError) as err:
        data.fetch("celeba", folder)
    msg = str(err.value)
    assert "celeba: cannot be downloaded automatically" in msg and "https://mmlab.ie.cuhk.edu.hk" in msg
    assert f"put img_align_celeba.zip into {folder}" in msg
    make_zip(folder / "img_align_celeba.zip", {f"img_align_celeba/{k:06d}.jpg": jpeg_bytes(k) for k in range(1, 5)})
    (folder / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 1\n000004.jpg 2\n")
    data.fetch("celeba", folder)
    train = data.load_real("celeba", folder, size=16)
    assert len(train) == 2 and len(data.load_real("celeba", folder, split="test", size=16)) == 1
    with pytest.raises(dl.DatasetUnavailableError, match=r"cityscapes: cannot be downloaded automatically.*"
                                                         r"leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip"):
        data.fetch("cityscapes", tmp_path / "cs")


def test_cityscapes_and_mvtec_layouts(tmp_path):
    cs = tmp_path / "cityscapes"
    for k in range(2):
        for kind, suffix in (("leftImg8bit", "leftImg8bit"), ("gtFine", "gtFine_color"), ("gtFine", "gtFine_labelIds")):
            d = cs / kind / "val" / "aachen"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((16, 32, 3), 50 * k, np.uint8)).save(d / f"aachen_{k:06d}_000019_{suffix}.png")
    pairs = data.load_real("cityscapes", cs, split="val", size=8)
    assert len(pairs) == 2 and pairs.report.skipped == {}, "label-id maps are not candidates"
    mv = tmp_path / "mvtec"
    for split, cls in (("train", "good"), ("test", "good"), ("test", "broken_large")):
        (mv / "bottle" / split / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(mv / "bottle" / split / cls / "000.png")
    test = data.load_real("mvtec_ad", mv, split="test", size=8)
    assert test.classes == ["broken_large", "good"]
    with pytest.raises(ValueError, match="category: unknown value 'bottles'"):
        data.load_real("mvtec_ad", mv, category="bottles")


def test_download_bad_input(tmp_path):
    with pytest.raises(ValueError, match="name: unknown real dataset 'cifar'; expected one of celeba"):
        data.fetch("cifar")
    with pytest.raises(ValueError, match="split: unknown value 'val'"):
        data.load_real("mnist", tmp_path, split="val")
    with pytest.raises(ValueError, match="url: expected an http://, https:// or file:// URL"):
        dl.download_file("ftp://x/y", tmp_path / "y")
    with pytest.raises(ValueError, match="sha256: expected 64 hexadecimal digits"):
        dl.download_file("http://127.0.0.1:9/y", tmp_path / "y", sha256="abc")
    with pytest.raises(ValueError, match="timeout: expected a finite number > 0"):
        dl.download_file("http://127.0.0.1:9/y", tmp_path / "y", timeout=0)
    with pytest.raises(FileNotFoundError, match="archive: .*nope.zip: no such file"):
        dl.extract_archive(tmp_path / "nope.zip", tmp_path)
    (tmp_path / "plain.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="neither a zip nor a tar archive"):
        dl.extract_archive(tmp_path / "plain.txt", tmp_path / "t")
    (tmp_path / "bad-idx").write_bytes(b"\x00\x00\x09\x01" + b"\0" * 8)
    with pytest.raises(ValueError, match="bad-idx: not an idx file"):
        dl.read_idx(tmp_path / "bad-idx")

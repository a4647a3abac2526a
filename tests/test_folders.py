"""Folders of odd images: every bad file is converted or skipped and counted; an epoch never crashes."""
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader

from gancourse import data
from gancourse.data import folders


def png_bytes(arr, bit_depth, color_type, width=None, height=None):
    """A PNG written by hand (Pillow cannot write 16-bit RGB, nor lie about its size)."""
    h, w = arr.shape[:2]
    rows = b"".join(b"\x00" + arr[y].astype(">u2" if bit_depth == 16 else "u1").tobytes() for y in range(h))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    header = struct.pack(">IIBBBBB", width or w, height or h, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def gradient(h, w, channels=3):
    g = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    return np.stack([g] * channels, -1).astype(np.uint8) if channels > 1 else g.astype(np.uint8)


def make_odd_folder(root):
    """Good but unusual images, bad files, and files to ignore. Returns the expected skip counts."""
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gradient(30, 40)).save(root / "rgb.png")
    Image.fromarray(gradient(64, 64)).save(root / "photo.jpg", quality=90)
    Image.fromarray(gradient(48, 48, 1)).save(root / "gray.png")
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 255                      # red, but fully transparent on the left half
    rgba[:, 16:, 3] = 255
    Image.fromarray(rgba).save(root / "rgba.png")
    Image.fromarray(np.stack([gradient(32, 32, 1), np.full((32, 32), 128, np.uint8)], -1), "LA").save(root / "la.png")
    pal = Image.fromarray(gradient(32, 32)).convert("P")
    pal.info["transparency"] = 0
    pal.save(root / "palette.png", transparency=0)
    (root / "deep16.png").write_bytes(png_bytes(np.full((32, 32), 40000, np.uint16), 16, 0))
    (root / "rgb16.png").write_bytes(png_bytes(np.full((32, 32, 3), 40000, np.uint16), 16, 2))
    Image.fromarray(gradient(32, 32)).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(gradient(32, 32, 1) > 128).save(root / "bilevel.png")
    Image.fromarray(np.linspace(-5, 5, 32 * 32, dtype=np.float32).reshape(32, 32), "F").save(root / "float.tif")
    Image.fromarray(gradient(32, 32)).save(root / "anim.gif")
    Image.fromarray(gradient(32, 32)).save(root / "bitmap.bmp")
    Image.fromarray(gradient(2000, 3000)).save(root / "large.jpg", quality=80)   # downscaled on load
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(gradient(40, 40)).save(root / "sub" / "deeper" / "nested.PNG")
    # bad files
    Image.fromarray(gradient(2, 2)).save(root / "tiny.png")
    (root / "bomb.png").write_bytes(png_bytes(np.zeros((4, 64), np.uint8), 8, 0, width=40000, height=40000))
    good = (root / "rgb.png").read_bytes()
    (root / "truncated.png").write_bytes(good[:len(good) // 2])
    jpeg = (root / "photo.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    (root / "notes.png").write_text("this is a text file with an image name")
    (root / "empty.jpg").write_bytes(b"")
    # ignored
    (root / "README.txt").write_text("my photos")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "._rgb.png").write_bytes(b"\0\5\26\7 AppleDouble")
    return {"too small": 1, "too large": 1, "truncated": 2, "unreadable": 2}


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd") / "photos"
    expected = make_odd_folder(root)
    return root, expected


def test_a_folder_of_odd_images_is_scanned_reported_and_served_for_a_full_epoch(odd_folder):
    root, expected = odd_folder
    with pytest.warns(UserWarning, match=r"photos: 15 of 21 image files used; skipped 6 \(1 too large, "
                                         r"1 too small, 2 truncated, 2 unreadable\)") as rec:
        ds = data.image_folder(root, size=32, channels=3)
    assert len([w for w in rec if "skipped" in str(w.message)]) == 1, "one warning line"
    assert dict(ds.report.skipped) == expected
    assert ds.report.found == 21 and ds.report.used == 15 == len(ds) and ds.report.ignored == 3
    assert set(ds.report.examples["truncated"]) == {"truncated.png", "truncated.jpg"}
    conv = ds.report.converted
    assert conv["16-bit scaled"] == 1 and conv["grayscale to RGB"] >= 4 and conv["downscaled"] == 2  # photo.jpg, large.jpg
    assert conv["alpha composited on white"] == 3 and conv["upsampled"] == 1  # rgba, la, palette
    seen = 0
    for images, labels in DataLoader(ds, batch_size=4, shuffle=True):
        assert images.dtype == torch.float32 and images.shape[1:] == (3, 32, 32)
        assert torch.isfinite(images).all() and images.min() >= -1 and images.max() <= 1
        assert (labels == 0).all()
        seen += len(images)
    assert seen == 15 and ds.report.failed_at_load == 0


def test_an_epoch_through_worker_processes(odd_folder):
    root, _ = odd_folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = data.image_folder(root, size=16, channels=1)
    batches = list(DataLoader(ds, batch_size=5, num_workers=2))
    assert sum(len(x) for x, _ in batches) == len(ds) and batches[0][0].shape[1:] == (1, 16, 16)


def _one(root, name, **kw):
    files = {p.name: p for p in root.rglob("*")}
    return folders._load(files[name], folders._options(kw.pop("size", 16), kw.pop("channels", 3),
                                                       kw.pop("alpha", "white"), kw.pop("resize", "crop"),
                                                       None, folders.MAX_PIXELS, "fast"))


def test_16_bit_images_are_scaled_not_clipped(odd_folder):
    root, _ = odd_folder
    expected = 40000 / 65535 * 2 - 1  # 0.2207; clipping at 255 would give 1.0
    assert torch.allclose(_one(root, "deep16.png"), torch.full((3, 16, 16), expected), atol=1e-4)
    # Pillow reads 16-bit RGB as 8-bit (the high byte): 40000 // 256 = 156
    assert torch.allclose(_one(root, "rgb16.png"), torch.full((3, 16, 16), 156 / 255 * 2 - 1), atol=1e-4)


def test_transparency_is_composited_on_white_black_or_dropped(odd_folder):
    root, _ = odd_folder
    white = _one(root, "rgba.png", resize="stretch")
    assert torch.allclose(white[:, :, :6], torch.ones(3, 16, 6)), "transparent half shows the white background"
    assert torch.allclose(white[:, :, 10:], torch.tensor([1.0, -1, -1])[:, None, None].expand(3, 16, 6))
    black = _one(root, "rgba.png", alpha="black", resize="stretch")
    assert torch.allclose(black[:, :, :6], -torch.ones(3, 16, 6))
    dropped = _one(root, "rgba.png", alpha="drop", resize="stretch")
    assert torch.allclose(dropped, torch.tensor([1.0, -1, -1])[:, None, None].expand(3, 16, 16))


def test_channel_conversions(odd_folder):
    root, _ = odd_folder
    gray3 = _one(root, "gray.png")
    assert torch.equal(gray3[0], gray3[1]) and torch.equal(gray3[1], gray3[2])
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 1] = 255
    luma = folders.convert_image(Image.fromarray(rgb), 16, channels=1)
    assert luma.shape == (1, 16, 16) and torch.allclose(luma, torch.full_like(luma, 0.587 * 2 - 1), atol=3e-3)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, 20:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(arr).save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    with Image.open(tmp_path / "rotated.jpg") as img:
        reference = folders.convert_image(ImageOps.exif_transpose(img), (16, 8), resize="stretch")
    with Image.open(tmp_path / "rotated.jpg") as img:
        ours = folders.convert_image(img, (16, 8), resize="stretch")
    assert torch.allclose(ours, reference, atol=1e-5)
    assert ours[:, :6].mean() < -0.9 and ours[:, 10:].mean() > 0.9, "left half becomes the top half"


def test_size_rules_tiny_and_huge(tmp_path):
    Image.fromarray(gradient(2, 2)).save(tmp_path / "tiny.png")
    Image.fromarray(gradient(1000, 1200)).save(tmp_path / "big.png")
    ds = data.image_folder(tmp_path, size=32, min_size=1, warn=False)
    assert len(ds) == 2 and ds.report.converted["upsampled"] == 1
    with pytest.warns(UserWarning, match="1 too large"):
        ds = data.image_folder(tmp_path, size=32, min_size=1, max_pixels=1_000_000)
    assert [p.name for p in ds.files] == ["tiny.png"] and ds[0][0].shape == (3, 32, 32)
    with pytest.raises(ValueError, match=r"root: no usable images in .* skipped 2 \(1 too large, 1 too small\)"):
        data.image_folder(tmp_path, size=64, warn=False, max_pixels=1_000_000)


def test_a_file_that_fails_at_load_time_is_replaced_and_counted(tmp_path):
    for k in range(6):
        Image.fromarray(np.full((20, 20, 3), 40 * k, np.uint8)).save(tmp_path / f"im{k}.png")
    ds = data.image_folder(tmp_path, size=8)
    (tmp_path / "im2.png").write_bytes(b"damaged after the scan")
    (tmp_path / "im4.png").unlink()
    with pytest.warns(UserWarning) as rec:
        images = torch.cat([x for x, _ in DataLoader(ds, batch_size=3)])
    messages = [str(w.message) for w in rec]
    assert any(m.startswith(str(tmp_path / "im2.png") + ": failed to load") for m in messages)
    assert any("im4.png: failed to load (FileNotFoundError" in m and "serving another image" in m for m in messages)
    assert images.shape == (6, 3, 8, 8) and ds.report.failed_at_load == 2
    assert torch.equal(images[2], images[3]), "im2 is replaced by the next good image"
    assert "2 failed when loaded and were replaced" in ds.report.summary()
    for k in range(6):
        (tmp_path / f"im{k}.png").unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="none of the 6 scanned images can be loaded"):
            ds[0]


def test_full_check_finds_what_the_fast_scan_cannot(tmp_path):
    Image.fromarray(gradient(32, 32)).save(tmp_path / "ok.bmp")
    raw = (tmp_path / "ok.bmp").read_bytes()
    (tmp_path / "cut.bmp").write_bytes(raw[:len(raw) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = data.image_folder(tmp_path, size=8)
    assert len(fast) == 2
    with pytest.warns(UserWarning, match="1 truncated"):
        full = data.image_folder(tmp_path, size=8, check="full")
    assert [p.name for p in full.files] == ["ok.bmp"]


def test_class_folders_unpaired_paired_and_side_by_side(tmp_path):
    for cls, value in (("cats", 0), ("dogs", 255)):
        (tmp_path / "cls" / cls).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(np.full((16, 16), value, np.uint8)).save(tmp_path / "cls" / cls / f"{k}.png")
    assert data.detect_layout(tmp_path / "cls") == "classes"
    Image.fromarray(gradient(16, 16)).save(tmp_path / "cls" / "stray.png")
    assert data.detect_layout(tmp_path / "cls") == "flat", "images at the top: a flat folder"
    ds = data.class_folders(tmp_path / "cls", size=8, channels=1)
    assert ds.classes == ["cats", "dogs"] and ds.labels == [0, 0, 0, 1, 1, 1] and ds.report.ignored == 1
    assert ds[0][0].max() == -1 and ds[5][0].min() == 1

    for d in ("trainA", "trainB"):
        (tmp_path / "h2z" / d).mkdir(parents=True)
    for k in range(3):
        Image.fromarray(gradient(20, 20)).save(tmp_path / "h2z" / "trainA" / f"h{k}.jpg")
    Image.fromarray(gradient(20, 20)).save(tmp_path / "h2z" / "trainB" / "z0.jpg")
    a, b = data.open_folder(tmp_path / "h2z", size=16)
    assert (len(a), len(b)) == (3, 1) and data.detect_layout(tmp_path / "h2z") == "unpaired"
    with pytest.raises(FileNotFoundError, match="lacks testA and testB"):
        data.cyclegan_folders(tmp_path / "h2z", split="test")

    for d in "AB":
        (tmp_path / "pairs" / d).mkdir(parents=True)
    for k in range(4):
        Image.fromarray(np.full((16, 16, 3), 0, np.uint8)).save(tmp_path / "pairs" / "A" / f"{k}.png")
        Image.fromarray(np.full((16, 16, 3), 255, np.uint8)).save(tmp_path / "pairs" / "B" / f"{k}.jpg")
    (tmp_path / "pairs" / "A" / "4.png").write_bytes((tmp_path / "pairs" / "A" / "0.png").read_bytes())
    (tmp_path / "pairs" / "B" / "3.jpg").write_text("broken")
    with pytest.warns(UserWarning, match=r"skipped 3 \(2 no partner, 1 unreadable\)"):
        pairs = data.open_folder(tmp_path / "pairs", size=8)
    assert data.detect_layout(tmp_path / "pairs") == "paired"
    assert len(pairs) == 3 and set(pairs.report.examples["no partner"]) == {"A/3.png", "A/4.png"}
    x, y = next(iter(DataLoader(pairs, batch_size=3)))
    assert x.shape == y.shape == (3, 3, 8, 8) and (x == -1).all() and (y > 0.99).all()

    (tmp_path / "facades").mkdir()
    combined = np.zeros((16, 32, 3), np.uint8)
    combined[:, 16:] = 255
    for k in range(2):
        Image.fromarray(combined).save(tmp_path / "facades" / f"{k}.png")
    sbs = data.open_folder(tmp_path / "facades", layout="sidebyside", size=8, channels=1)
    left, right = sbs[1]
    assert left.shape == right.shape == (1, 8, 8) and (left == -1).all() and (right == 1).all()
    assert data.detect_layout(tmp_path / "facades") == "flat"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"size": 1}, ValueError, "size: expected an int >= 2"),
    ({"size": "64"}, TypeError, "size: expected an int or a pair"),
    ({"size": (32, 0)}, ValueError, r"size\[1\]: expected an int >= 2"),
    ({"channels": 2}, ValueError, "channels: expected 1 .grayscale. or 3"),
    ({"alpha": "grey"}, ValueError, "alpha: unknown value 'grey'"),
    ({"resize": "fit"}, ValueError, "resize: unknown value 'fit'"),
    ({"check": "slow"}, ValueError, "check: unknown value 'slow'"),
    ({"max_pixels": 0}, ValueError, "max_pixels: expected an int >= 1"),
])
def test_folder_bad_arguments(tmp_path, kwargs, error, message):
    Image.fromarray(gradient(16, 16)).save(tmp_path / "a.png")
    with pytest.raises(error, match=message):
        data.image_folder(tmp_path, **kwargs)


def test_folder_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="root: .*nowhere: no such folder"):
        data.image_folder(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        data.image_folder(tmp_path / "file.png")
    with pytest.raises(TypeError, match="root: expected a folder path"):
        data.image_folder(3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"root: no usable images in .*empty \(empty: 0 of 0 image files used\)"):
        data.image_folder(tmp_path / "empty")
    with pytest.raises(ValueError, match="has no class sub-folders"):
        data.class_folders(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="lacks A and B"):
        data.paired_folders(tmp_path / "empty")
    with pytest.raises(ValueError, match="layout: unknown value 'pairs'"):
        data.open_folder(tmp_path, layout="pairs")
    with pytest.raises(TypeError, match="image: expected a PIL.Image.Image or a NumPy array"):
        data.convert_image([[0, 1]])
    with pytest.raises(ValueError, match=r"image: expected floats in \[0, 1\]"):
        data.convert_image(np.full((4, 4), 2.0))
    with pytest.raises(ValueError, match=r"image: expected an array of shape \(H, W\)"):
        data.convert_image(np.zeros((4, 4, 2), np.uint8))


@pytest.mark.parametrize("orientation", range(2, 9))
def test_every_exif_orientation_matches_pillow(orientation):
    arr = (np.random.default_rng(orientation).random((5, 7, 3)) * 255).astype(np.uint8)
    name = folders._EXIF_TRANSPOSE[orientation]
    reference = np.asarray(Image.fromarray(arr).transpose(getattr(Image.Transpose, name)))
    assert np.array_equal(folders._apply_transpose(arr, name), reference)

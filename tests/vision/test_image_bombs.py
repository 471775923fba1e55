"""Image bombs and broken files: refused from their headers before any decoder allocates, with an
ImageError naming the file, in every accepted format; never an uncaught cv2.error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from firmware.errors import ImageError
from firmware.imaging.header import MAX_PIXELS, read_header
from firmware.imaging.image import decode_image, decode_image_limited, read_image, read_image_limited
from tests.conftest import SHARED
from tests.vision import bombs

PHOTO = SHARED / "data" / "faces" / "amy" / "amy1.jpg"
OCCUR = Path(sys.executable).parent / "occur"


@pytest.mark.parametrize("name", sorted(bombs.huge_headers()))
def test_a_header_over_the_pixel_limit_is_refused_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(bombs.huge_headers()[name])
    for read in (read_image, read_image_limited):
        with pytest.raises(ImageError) as info:
            read(path)
        assert str(path) in str(info.value) and "over the limit" in str(info.value)
    with pytest.raises(ImageError, match="over the limit"):
        decode_image(path.read_bytes(), name)
    with pytest.raises(ImageError, match=f"{name}: .*over the limit"):
        decode_image_limited(path.read_bytes(), name)  # uploads: bytes that never touch the disk


@pytest.mark.parametrize("name", sorted(bombs.unsupported()))
def test_formats_whose_size_is_not_parsed_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(bombs.unsupported()[name])
    with pytest.raises(ImageError, match="not a supported format") as info:
        read_image_limited(path)
    assert str(path) in str(info.value)


ENCODINGS = {
    ".png": [],
    ".bmp": [],
    ".tiff": [],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 90],
    ".ppm": [],
    ".pgm": [],
    ".pbm": [],
    ".pam": [],
    ".jpg": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
}


@pytest.mark.parametrize("suffix", [*ENCODINGS, "lossless.webp"])
def test_every_accepted_format_still_decodes_and_its_header_size_is_right(tmp_path: Path, suffix: str) -> None:
    """The parsers agree with OpenCV on real files OpenCV wrote (odd sizes catch off-by-ones)."""
    image = cv2.resize(read_image(PHOTO), (241, 137))
    ext = ".webp" if suffix == "lossless.webp" else suffix
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == "lossless.webp" else ENCODINGS[suffix]
    if ext in (".pgm", ".pbm"):
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    ok, data = cv2.imencode(ext, image, params)
    assert ok
    path = tmp_path / f"photo{ext}"
    path.write_bytes(data.tobytes())
    header = read_header(path.read_bytes())
    assert (header.width, header.height) == (241, 137)
    assert read_image(path).shape == (137, 241, 3)
    assert read_image_limited(path)[0].shape == (137, 241, 3)


def test_a_photo_just_under_the_limit_is_decoded_reduced(tmp_path: Path) -> None:
    side = int(MAX_PIXELS**0.5) - 1
    path = tmp_path / "big.png"
    path.write_bytes(bombs.png_bomb(side - side % 100, side - side % 100))
    image, factor = read_image_limited(path)
    assert factor == 4 and image.shape[2] == 3


@pytest.mark.parametrize(("width", "height"), [(1, 1_000_000), (1_000_000, 1), (3, 40000)])
def test_extreme_shapes_decode_without_a_cv2_error(tmp_path: Path, width: int, height: int) -> None:
    """Reduced decoding never shrinks a side to zero pixels (OpenCV's resize assertion)."""
    path = tmp_path / "line.png"
    path.write_bytes(bombs.png(width, height, zlib_rows(width, height)))
    image, factor = read_image_limited(path)
    assert image.shape[0] >= 1 and image.shape[1] >= 1 and factor >= 1


def zlib_rows(width: int, height: int) -> bytes:
    import zlib

    return zlib.compress(b"\0" * ((width + 1) * height), 9)


def test_broken_files_of_accepted_formats_are_image_errors(tmp_path: Path) -> None:
    cases = {
        "truncated.jpg": PHOTO.read_bytes()[:700],
        "garbage.png": bombs.png(100, 100, b"not zlib at all"),
        "short.png": b"\x89PNG\r\n\x1a\n\0\0",
        "text.jpg": b"hello",
        "empty.png": b"",
        "zero.bmp": bombs.bmp(0, 10),
    }
    for name, body in cases.items():
        path = tmp_path / name
        path.write_bytes(body)
        with pytest.raises(ImageError) as info:
            read_image_limited(path)
        assert str(path) in str(info.value), name


def _peak_rss_mb(*args: str) -> tuple[int, str, float]:
    """Run ``occur ARGS`` in a fresh interpreter; its exit status, stderr and peak RSS (MiB)."""
    code = (
        "import resource, subprocess, sys, json\n"
        f"out = subprocess.run({[str(OCCUR), *args]!r}, capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps([out.returncode, out.stderr, peak]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status, err, peak = json.loads(done.stdout)
    return int(status), str(err), float(peak)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(bombs.png_bomb(30000, 30000))
    assert path.stat().st_size < 1_000_000
    return path


@pytest.mark.parametrize("command", ["identify", "enroll"])
def test_a_png_bomb_is_refused_by_identify_and_enroll_without_the_memory(
    bomb: Path, tmp_path: Path, command: str
) -> None:
    """30000 x 30000 pixels in 875 KB: 2.7 GB once decoded. Refused from the header; the
    process stays at the size of the loaded models."""
    data = str(tmp_path / "data")
    subprocess.run([str(OCCUR), "--data-dir", data, "db", "migrate"], check=True, capture_output=True)  # a gallery
    args = ["enroll", "--consent-by", "test", "Amy", str(bomb)] if command == "enroll" else ["identify", str(bomb)]
    status, err, peak = _peak_rss_mb("--data-dir", data, *args)
    assert status in (1, 2), err
    assert str(bomb) in err and "900,000,000 pixels is over the limit" in err
    assert "Traceback" not in err and "cv2.error" not in err
    assert peak < 600, f"peak RSS {peak:.0f} MiB"


@pytest.mark.parametrize("name", ["tall.png", "big.ppm"])
def test_identify_gives_a_clear_answer_for_shapes_that_broke_opencv(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(bombs.png(1, 1_000_000, zlib_rows(1, 1_000_000)) if name == "tall.png" else
                     bombs.netpbm(60000, 60000, "P6"))  # fmt: skip
    data = str(tmp_path / "data")
    subprocess.run([str(OCCUR), "--data-dir", data, "db", "migrate"], check=True, capture_output=True)  # a gallery
    out = subprocess.run([str(OCCUR), "--data-dir", data, "identify", str(path)], capture_output=True, text=True)
    assert "OpenCV" not in out.stderr and "Traceback" not in out.stderr
    if name == "tall.png":
        assert out.returncode == 0 and "no face" in out.stdout
    else:
        assert out.returncode == 1 and out.stderr.splitlines()[-1].startswith(f"occur: error: {path}:")
        assert "over the limit" in out.stderr

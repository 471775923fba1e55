"""Hostile image files made by hand: headers that claim huge sizes, in every accepted format, and a
real PNG decompression bomb (a valid 30000 x 30000 PNG of under 1 MB)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A PNG of 8-bit grey pixels; ``idat`` defaults to a few compressed zero bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 64) if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A complete, valid grey PNG of zeros. The deflate stream is one full-flushed block of 100
    rows repeated (identical after each flush), with the Adler-32 of n zero bytes, (n mod 65521)
    << 16 | 1, so it takes well under a second to make."""
    rows = 100
    assert height % rows == 0
    block = b"\0" * ((width + 1) * rows)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressor.compress(block)
    compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()
    total = (width + 1) * height
    stream = b"\x78\xda" + repeated * (height // rows) + end + struct.pack(">I", ((total % 65521) << 16) | 1)
    return png(width, height, stream)


def jpeg(width: int, height: int, progressive: bool = False) -> bytes:
    sof = b"\xff\xc2" if progressive else b"\xff\xc0"
    components = b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\1\1\0\0\1\0\1\0\0" + sof + struct.pack(
        ">HBHHB", 17, 8, height, width, 3
    ) + components + b"\xff\xd9"  # fmt: skip


def bmp(width: int, height: int) -> bytes:
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + dib + b"\0" * 16


def tiff(width: int, height: int, order: str = "<") -> bytes:
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]  # fmt: skip
    ifd = struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack(order + ("HH" if kind == 3 else "I"), *((value, 0) if kind == 3 else (value,)))
        ifd += struct.pack(order + "HHI", tag, kind, count) + packed
    ifd += b"\0\0\0\0"
    return magic + struct.pack(order + "I", 8 + 16) + b"\0" * 16 + ifd


def webp(width: int, height: int, kind: str) -> bytes:
    if kind == "VP8X":
        body = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    elif kind == "VP8L":
        body = b"\x2f" + ((width - 1) | ((height - 1) << 14)).to_bytes(4, "little") + b"\0" * 8
    else:
        body = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\0" * 8
    chunk = kind.encode().ljust(4) + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def netpbm(width: int, height: int, magic: str) -> bytes:
    if magic == "P7":
        return f"P7\nWIDTH {width}\nHEIGHT {height}\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n".encode() + b"\0" * 64
    tail = "\n-1.0\n" if magic in ("PF", "Pf") else ("\n" if magic in ("P1", "P4") else "\n255\n")
    return f"{magic}\n# made by hand\n{width} {height}{tail}".encode() + b"\0" * 64


def huge_headers() -> dict[str, bytes]:
    """One file per accepted format, each declaring far more than the pixel limit."""
    return {
        "png.png": png(60000, 60000),
        "baseline.jpg": jpeg(60000, 60000),
        "progressive.jpg": jpeg(30000, 30000, progressive=True),
        "image.bmp": bmp(60000, -60000),
        "le.tiff": tiff(60000, 60000, "<"),
        "be.tif": tiff(60000, 60000, ">"),
        "extended.webp": webp(16_000_000, 16_000_000, "VP8X"),
        "lossless.webp": webp(16384, 16384, "VP8L"),
        "lossy.webp": webp(16383, 16383, "VP8 "),
        "image.ppm": netpbm(60000, 60000, "P6"),
        "image.pgm": netpbm(60000, 60000, "P5"),
        "ascii.ppm": netpbm(60000, 60000, "P3"),
        "image.pbm": netpbm(60000, 60000, "P4"),
        "image.pam": netpbm(60000, 60000, "P7"),
        "image.pfm": netpbm(60000, 60000, "PF"),
    }


def unsupported() -> dict[str, bytes]:
    """Formats OpenCV may decode whose sizes the firmware does not parse: refused outright."""
    return {
        "anim.gif": b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0" * 32,
        "image.hdr": b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 60000 +X 60000\n" + b"\0" * 32,
        "image.exr": b"\x76\x2f\x31\x01" + b"\0" * 64,
        "image.jp2": b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 64,
        "image.ras": b"\x59\xa6\x6a\x95" + b"\0" * 64,
    }


def write_all(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in files.items():
        path = folder / name
        path.write_bytes(body)
        paths.append(path)
    return paths

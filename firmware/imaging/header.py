"""Image sizes from file headers, read before anything is decoded (pure Python, no OpenCV).

Why: a decoder allocates the whole picture as soon as it has read the header, so a 875 KB PNG
that claims 30000 x 30000 pixels costs 2.7 GB before a single row is checked. The size is read
here from the header of every format the firmware accepts, and a picture over
:data:`MAX_PIXELS` is refused before OpenCV sees it. Formats OpenCV could decode but that are
not listed here (GIF, JPEG 2000, OpenEXR, Radiance HDR, Sun raster, AVIF...) are refused
outright: an allowlist fails closed, a parser that forgot a format would not.

Accepted: JPEG (baseline and progressive), PNG, BMP, TIFF (classic and BigTIFF; the first
page, which is what OpenCV decodes), WebP (lossy, lossless and extended), and the Netpbm family
(PBM, PGM, PPM, PAM, PFM).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

MAX_PIXELS = 50_000_000
"""Largest picture accepted, in pixels of the file (width x height): a 50 MP phone photo
(8160 x 6120) fits; decoded as BGR it takes 150 MB."""

FORMATS = "JPEG, PNG, BMP, TIFF, WebP, PBM/PGM/PPM/PAM/PFM"


class HeaderError(ValueError):
    """The header is missing, truncated, of an unsupported format, or claims too many pixels.
    The message says which, without a file name (the caller adds it)."""


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says: its format and size in pixels."""

    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        """width x height."""
        return self.width * self.height


def read_header(data: bytes) -> ImageHeader:
    """The format and size that ``data`` (the start of a file; 64 KiB is plenty) declares.

    Raises:
        HeaderError: unsupported format, a header that cannot be read, or a size of zero.
    """
    for magic, parse in _PARSERS:
        if data.startswith(magic):
            try:
                header = parse(data)
            except (struct.error, IndexError, ValueError) as err:
                raise HeaderError(f"not a decodable image: unreadable {_name(magic)} header ({err})") from err
            if header.width <= 0 or header.height <= 0:
                raise HeaderError(
                    f"not a decodable image: {header.format} header declares {header.width}x{header.height} pixels"
                )
            return header
    raise HeaderError(f"not a decodable image: not a supported format (accepted: {FORMATS})")


def check_size(header: ImageHeader, max_pixels: int = MAX_PIXELS) -> None:
    """Raise HeaderError when ``header`` declares more than ``max_pixels``."""
    if header.pixels > max_pixels:
        raise HeaderError(
            f"{header.format} of {header.width}x{header.height} = {header.pixels:,} pixels is over the limit "
            f"of {max_pixels:,} pixels"
        )


def _name(magic: bytes) -> str:
    return next(fmt for m, fmt in _NAMES if magic.startswith(m))


def _jpeg(data: bytes) -> ImageHeader:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break  # end of image, or scan data before any frame header
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageHeader("JPEG", width, height)
        pos += 2 + length
    raise ValueError("no frame header (SOF) in the first bytes")


def _png(data: bytes) -> ImageHeader:
    if data[12:16] != b"IHDR":
        raise ValueError("first chunk is not IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return ImageHeader("PNG", width, height)


def _bmp(data: bytes) -> ImageHeader:
    size = int.from_bytes(data[14:18], "little")
    if size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack("<HH", data[18:22])
    elif size >= 40:
        width, height = struct.unpack("<ii", data[18:26])
    else:
        raise ValueError(f"DIB header of {size} bytes")
    return ImageHeader("BMP", width, abs(height))


def _tiff(data: bytes) -> ImageHeader:
    order = "<" if data[:2] == b"II" else ">"
    (version,) = struct.unpack(order + "H", data[2:4])
    if version == 42:
        (offset,) = struct.unpack(order + "I", data[4:8])
        count_fmt, entry, value_at, count_size = "H", 12, 8, 2
    elif version == 43:  # BigTIFF
        (offset,) = struct.unpack(order + "Q", data[8:16])
        count_fmt, entry, value_at, count_size = "Q", 20, 12, 8
    else:
        raise ValueError(f"TIFF version {version}")
    (count,) = struct.unpack(order + count_fmt, data[offset : offset + count_size])
    sizes: dict[int, int] = {}
    for i in range(count):
        at = offset + count_size + i * entry
        tag, kind = struct.unpack(order + "HH", data[at : at + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT, LONG or LONG8
            fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
            if fmt is None:
                raise ValueError(f"tag {tag} of type {kind}")
            (sizes[tag],) = struct.unpack(order + fmt, data[at + value_at : at + value_at + struct.calcsize(fmt)])
    if 256 not in sizes or 257 not in sizes:
        raise ValueError("first page has no width or length")
    return ImageHeader("TIFF", sizes[256], sizes[257])


def _webp(data: bytes) -> ImageHeader:
    if data[8:12] != b"WEBP":
        raise ValueError("RIFF file that is not WebP")
    chunk = data[12:16]
    body = data[20:]
    if chunk == b"VP8X":  # extended: the canvas size
        return ImageHeader("WebP", int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
    if chunk == b"VP8L":  # lossless: 14-bit width-1 and height-1 after the signature byte
        if body[0] != 0x2F:
            raise ValueError("bad VP8L signature")
        bits = int.from_bytes(body[1:5], "little")
        return ImageHeader("WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 ":  # lossy: key frame start code, then 14-bit width and height
        if body[3:6] != b"\x9d\x01\x2a":
            raise ValueError("bad VP8 start code")
        width, height = struct.unpack("<HH", body[6:10])
        return ImageHeader("WebP", width & 0x3FFF, height & 0x3FFF)
    raise ValueError(f"first chunk {chunk!r}")


_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\S+)")


def _pnm(data: bytes) -> ImageHeader:
    if data[:2] == b"P7":  # PAM: "WIDTH n" and "HEIGHT n" lines up to ENDHDR
        text = data[: data[:4096].index(b"ENDHDR")].decode("ascii")
        fields = dict(line.split(None, 1) for line in text.splitlines()[1:] if line.strip() and line[0] != "#")
        return ImageHeader("PAM", int(fields["WIDTH"]), int(fields["HEIGHT"]))
    pos, numbers = 2, []
    for _ in range(2):
        match = _TOKEN.match(data, pos)
        if match is None:
            raise ValueError("header ends early")
        numbers.append(int(match.group(1)))
        pos = match.end()
    kind = {b"P1": "PBM", b"P4": "PBM", b"P2": "PGM", b"P5": "PGM", b"PF": "PFM", b"Pf": "PFM"}.get(data[:2], "PPM")
    return ImageHeader(kind, numbers[0], numbers[1])


_PARSERS = (
    (b"\xff\xd8\xff", _jpeg),
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"BM", _bmp),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"II+\x00", _tiff),
    (b"MM\x00+", _tiff),
    (b"RIFF", _webp),
    *((f"P{n}".encode(), _pnm) for n in "1234567fF"),
)
_NAMES = (
    (b"\xff\xd8", "JPEG"),
    (b"\x89PNG", "PNG"),
    (b"BM", "BMP"),
    (b"II", "TIFF"),
    (b"MM", "TIFF"),
    (b"RIFF", "WebP"),
    (b"P", "Netpbm"),
)

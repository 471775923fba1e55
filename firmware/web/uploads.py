"""Uploaded photos: only JPEG and PNG, sized from their headers before anything is decoded.

Image bombs are refused by their declared size: a JPEG over 50 megapixels (the decoder's own limit), a PNG over 4
megapixels (PNG cannot be decoded at reduced size), a side over 16384 px or one ten times the
other (a 1 x 1000000 strip), or an image whose size cannot be read. A
JPEG is decoded reduced to at most 2048 px a side. Photos are held in memory only.
"""

from __future__ import annotations

from firmware.domain import Image
from firmware.errors import ImageError
from firmware.imaging.header import MAX_PIXELS
from firmware.imaging.image import decode_image_limited, image_size
from firmware.web.http import Upload

MAX_JPEG_PIXELS = MAX_PIXELS
MAX_PNG_PIXELS = 2048 * 2048
MAX_SIDE = 16384
MAX_RATIO = 10


def label(index: int, upload: Upload) -> str:
    """How a photo is named on the page: its number and file name (shortened)."""
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:80] or "photo"
    return f"{index}. {name}"


def decode(upload: Upload) -> tuple[Image | None, list[str]]:
    """The decoded photo, or None with the reason."""
    data = upload.body
    if not data:
        return None, ["empty file"]
    is_png = data[:8] == b"\x89PNG\r\n\x1a\n"
    if not is_png and data[:3] != b"\xff\xd8\xff":
        return None, ["not a JPEG or PNG photo"]
    size = image_size(data[:65536])
    if size is None or min(size) < 1:
        return None, ["the photo's size cannot be read from its header (damaged or not a photo)"]
    pixels = size[0] * size[1]
    if max(size) > MAX_SIDE or max(size) > MAX_RATIO * min(size):
        return None, [
            f"the photo is {size[0]}x{size[1]} pixels: no face photo has sides over {MAX_SIDE} px "
            f"or one side more than {MAX_RATIO} times the other"
        ]
    limit = MAX_PNG_PIXELS if is_png else MAX_JPEG_PIXELS
    if pixels > limit:
        kind = "PNG" if is_png else "JPEG"
        return None, [
            f"the photo is {size[0]}x{size[1]} pixels ({pixels / 1e6:.0f} MP); a {kind} may have at most "
            f"{limit / 1e6:.0f} MP"
        ]
    try:
        image, _factor = decode_image_limited(data, upload.filename or "photo")
    except ImageError:
        return None, ["not a decodable photo (corrupt or truncated)"]
    return image, []

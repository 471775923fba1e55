"""Image decoding and the detector's input tensor (OpenCV, imported inside the functions).

Every decode goes through one path: the header is read and checked first (accepted format, at
most ``MAX_PIXELS`` pixels; see :mod:`firmware.imaging.header`), then OpenCV decodes, and
any OpenCV failure becomes an :class:`ImageError` naming the file. So an image bomb or a broken
file is one clear error, never a 2.7 GB allocation or an uncaught ``cv2.error``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware.domain import Image
from firmware.errors import ImageError
from firmware.imaging.header import MAX_PIXELS, HeaderError, ImageHeader, check_size, read_header


def _cv2() -> Any:
    """OpenCV, with its own decoder size limit lowered to ours (defence in depth behind the header
    check: OpenCV reads ``OPENCV_IO_MAX_IMAGE_PIXELS`` at its first decode; its default is 2**30)."""
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
    import cv2

    return cv2


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise ImageError(f"{path}: cannot read ({err.strerror})") from err


def _checked(data: bytes, what: object) -> ImageHeader:
    """The header of ``data``, refused (ImageError naming ``what``) when it is not an accepted
    format or declares more than :data:`MAX_PIXELS` pixels: before any decoder allocates."""
    if not data:
        raise ImageError(f"{what}: empty file, not an image")
    try:
        header = read_header(data)
        check_size(header)
    except HeaderError as err:
        raise ImageError(f"{what}: {err}") from err
    return header


def _decode(data: bytes, what: object, flags: int | None = None) -> Image:
    """Decode checked bytes; OpenCV's failures become ImageError naming ``what``."""
    cv2 = _cv2()
    try:
        image: Any = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR if flags is None else flags)
    except cv2.error as err:
        reason = str(err).strip().splitlines()[-1]
        raise ImageError(f"{what}: cannot be decoded ({reason})") from err
    if image is None or image.ndim != 3 or image.shape[2] != 3 or not image.size:
        raise ImageError(f"{what}: not a decodable image (corrupt, truncated or unsupported format)")
    return np.asarray(image, dtype=np.uint8)


def read_image(path: Path) -> Image:
    """Decode an image file to BGR.

    Raises:
        ImageError: missing, unreadable, truncated, not an accepted format, or over
            :data:`MAX_PIXELS` pixels, naming the file. Never OpenCV's own error.
    """
    data = _read(path)
    _checked(data, path)
    return _decode(data, path)


MAX_SIDE = 2048
"""Photos larger than this (pixels, longest side) are decoded at 1/2, 1/4 or 1/8 size: a 36 MP
photo would otherwise take 108 MB decoded, and no face needs that many pixels."""


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of any accepted format without decoding; None when the
    header cannot be read."""
    try:
        header = read_header(data)
    except HeaderError:
        return None
    return header.width, header.height


def read_image_limited(path: Path, max_side: int = MAX_SIDE) -> tuple[Image, float]:
    """Decode an image no larger than about ``max_side``; returns it and the factor from its
    pixels to the file's (1, 2, 4 or 8). The factor never shrinks a side below one pixel.

    Raises:
        ImageError: as :func:`read_image`.
    """
    return decode_image_limited(_read(path), str(path), max_side)


def decode_image_limited(
    data: bytes | npt.NDArray[np.uint8], what: str, max_side: int = MAX_SIDE
) -> tuple[Image, float]:
    """:func:`read_image_limited` for encoded bytes already in memory (uploads, never written to
    disk); ``what`` names the image in errors.

    Raises:
        ImageError: as :func:`read_image`.
    """
    cv2 = _cv2()
    raw = data if isinstance(data, bytes) else bytes(np.asarray(data, dtype=np.uint8).tobytes())
    header = _checked(raw, what)
    factor = 1
    while max(header.width, header.height) / factor > max_side and factor < 8:
        if min(header.width, header.height) < factor * 2:
            break
        factor *= 2
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}[factor]  # fmt: skip
    image = _decode(raw, what, flags)
    return image, header.width / image.shape[1]


def letterbox_tensor(image: Image, size: int, scale: float, pad: tuple[float, float]) -> npt.NDArray[np.float32]:
    """Scale ``image`` by ``scale`` into a ``size`` x ``size`` canvas offset by ``pad`` (pixels,
    left and top), the rest black, converted BGR to RGB and to [-1, 1]: BlazeFace's input tensor
    (the detector works out ``scale`` and ``pad`` to map its boxes back)."""
    import cv2

    height, width = image.shape[:2]
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
    canvas = np.full((size, size, 3), -1.0, dtype=np.float32)
    left, top = round(pad[0]), round(pad[1])
    canvas[top : top + new_h, left : left + new_w] = rgb
    return canvas[None]


def warp_to_chip(image: Image, chip_to_image: npt.NDArray[np.float64], size: int) -> Image:
    """Sample a ``size`` x ``size`` chip through a 2x3 chip-to-image affine matrix (bilinear);
    pixels outside the image are black."""
    import cv2

    chip = cv2.warpAffine(
        image,
        chip_to_image,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.asarray(chip, dtype=np.uint8)


def pyr_down(image: Image) -> Image:
    """Half-size image, Gaussian-filtered first (one pyramid level)."""
    import cv2

    return np.asarray(cv2.pyrDown(image), dtype=np.uint8)


def pad_image(image: Image, fraction: float) -> Image:
    """``image`` with a black border ``fraction`` of its longest side wide on every side (a tight
    face crop gets the margin a photo has)."""
    import cv2

    n = round(fraction * max(image.shape[:2]))
    padded = cv2.copyMakeBorder(image, n, n, n, n, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return np.asarray(padded, dtype=np.uint8)


def rotate_image(image: Image, degrees: float) -> Image:
    """``image`` turned ``degrees`` counter-clockwise about its centre, same size, black corners
    (a tilted head, for tests and benchmarks)."""
    import cv2

    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return np.asarray(cv2.warpAffine(image, matrix, (w, h)), dtype=np.uint8)


def encode_jpeg(image: Image, quality: int = 95) -> bytes:
    """JPEG bytes of a BGR image.

    Raises:
        ImageError: the encoder refused the image.
    """
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("JPEG encoding failed")
    return bytes(data.tobytes())


def laplacian_variance(image: Image) -> float:
    """Sharpness: variance of the Laplacian of the grey image (low = blurred)."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def crop_resized(image: Image, box: tuple[float, float, float, float], size: int) -> Image | None:
    """The part of ``box`` inside the image, resized to ``size`` x ``size`` (area filter); None
    when less than 2 px of it is inside."""
    import cv2

    h, w = image.shape[:2]
    x0, y0 = max(0, round(box[0])), max(0, round(box[1]))
    x1, y1 = min(w, round(box[2])), min(h, round(box[3]))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.asarray(cv2.resize(image[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def decode_image(data: bytes, what: str = "image") -> Image:
    """Decode encoded image bytes (JPEG, PNG...) to BGR, with the same checks as
    :func:`read_image`.

    Raises:
        ImageError: not an accepted, decodable image of at most :data:`MAX_PIXELS` pixels.
    """
    _checked(data, what)
    return _decode(data, what)


# Helpers for the liveness cues (firmware.vision.liveness) and the synthetic attack bench
# (occur_dev.bench.pad*): OpenCV stays behind this module.

Grey = npt.NDArray[np.uint8]
"""An 8-bit single-channel image."""


def to_grey(image: Image) -> Grey:
    """Luma of a BGR image."""
    import cv2

    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def resize(image: npt.NDArray[Any], width: int, height: int, smooth: bool = True) -> npt.NDArray[Any]:
    """``image`` scaled to ``width`` x ``height``. ``smooth``: an area filter when shrinking
    (no aliasing), bicubic when enlarging; otherwise nearest neighbour (keeps pixel structure)."""
    import cv2

    enlarging = width * height > image.shape[0] * image.shape[1]
    how = (cv2.INTER_CUBIC if enlarging else cv2.INTER_AREA) if smooth else cv2.INTER_NEAREST
    return np.asarray(cv2.resize(image, (width, height), interpolation=how))


def gaussian_blur(image: npt.NDArray[Any], sigma: float) -> npt.NDArray[Any]:
    """Gaussian blur with standard deviation ``sigma`` pixels (no-op at 0)."""
    import cv2

    if sigma <= 0:
        return image
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma))


def warp_perspective(image: Image, homography: npt.NDArray[np.float64], canvas: Image) -> Image:
    """``image`` projected through the 3x3 ``homography`` (image pixels to canvas pixels) onto a
    copy of ``canvas``; canvas pixels outside the projected image are kept."""
    import cv2

    out = canvas.copy()
    h, w = canvas.shape[:2]
    cv2.warpPerspective(image, homography, (w, h), dst=out, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
    return out


def remap(image: Image, map_x: npt.NDArray[np.float32], map_y: npt.NDArray[np.float32]) -> Image:
    """Backward warp: output pixel (y, x) samples ``image`` at (map_y, map_x), bilinear, with
    edge pixels repeated outside."""
    import cv2

    return np.asarray(cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))


def triangle_ids(height: int, width: int, triangles: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    """Rasterise ``triangles`` (N x 3 x 2, pixel corners) in the given order, later ones over
    earlier ones; each pixel holds the index of the triangle covering it, -1 where none does."""
    import cv2

    ids = np.zeros((height, width), dtype=np.int32)
    for i, tri in enumerate(np.round(triangles).astype(np.int32)):
        cv2.fillConvexPoly(ids, tri, i + 1)
    return ids - 1


def delaunay(points: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    """Delaunay triangulation of 2-D ``points`` (N x 2), as M x 3 point indices."""
    import cv2

    lo, hi = points.min(axis=0) - 1, points.max(axis=0) + 1
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 2, int(hi[1] - lo[1]) + 2))
    index = {}
    for i, (x, y) in enumerate(points):
        subdiv.insert((float(x), float(y)))
        index[(round(float(x), 2), round(float(y), 2))] = i
    triangles = []
    for row in subdiv.getTriangleList():
        corners = [index.get((round(float(row[k]), 2), round(float(row[k + 1]), 2))) for k in (0, 2, 4)]
        if all(c is not None for c in corners):
            triangles.append(corners)
    return np.array(triangles, dtype=np.int32).reshape(-1, 3)


def edges(grey: Grey, low: float, high: float) -> Grey:
    """Canny edge map (255 on edges)."""
    import cv2

    return np.asarray(cv2.Canny(grey, low, high), dtype=np.uint8)


def line_segments(edge_map: Grey, min_length: float, max_gap: float) -> npt.NDArray[np.float64]:
    """Straight segments in an edge map (probabilistic Hough), N x 4 ``x0, y0, x1, y1``."""
    import cv2

    votes = max(30, round(0.5 * min_length))  # a segment needs edge pixels along half its length at least
    found = cv2.HoughLinesP(edge_map, 1, np.pi / 180, votes, minLineLength=min_length, maxLineGap=max_gap)
    return np.zeros((0, 4)) if found is None else np.asarray(found, dtype=np.float64).reshape(-1, 4)


def connected_blobs(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Label 8-connected regions of ``mask``: the label image and per label (0 = background)
    the ``x, y, width, height, area`` row."""
    import cv2

    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return np.asarray(labels, dtype=np.int32), np.asarray(stats, dtype=np.int32)


def darken_line(image: Image, points: npt.NDArray[np.float64], thickness: int, factor: float) -> Image:
    """``image`` with the polyline through ``points`` (N x 2) darkened to ``factor`` of its
    brightness (a drawn eyelash line, for the bench's renders)."""
    import cv2

    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 255, max(1, thickness), cv2.LINE_AA)
    weight = 1.0 - (1.0 - factor) * (mask.astype(np.float32) / 255.0)
    return np.asarray(np.clip(image.astype(np.float32) * weight[..., None], 0, 255), dtype=np.uint8)

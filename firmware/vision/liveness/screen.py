"""Per-frame cues that a face is shown by a screen or a print. They can only deny.

- **Bezel**: straight edges on three or four sides of the face, close to it, running along it
  and meeting at corners: the border of a phone, a tablet or a sheet of paper held up to the
  camera. A doorway behind a person is further out and has no side below the chin.
- **Glare**: a clipped, colourless patch covering an eye or the mouth: light reflected by a
  screen or glossy paper. Skin highlights sit on the forehead, nose and cheekbones instead.
- **Moiré**: an isolated peak in the spectrum of the middle of the face, where skin has none:
  a screen's pixel grid aliased by the camera's, or a print's halftone. The camera's own JPEG
  block grid (periods of 8 px along the axes) is ignored.

Each returns a score with a documented threshold; the visit accumulator requires a cue in
several frames before it calls an attack. Failure modes: a face near the image border sees
less of its surroundings (fewer bezel sides, never more); a heavily compressed frame loses
the moiré.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.domain import Image
from firmware.imaging.image import connected_blobs, edges, gaussian_blur, line_segments, resize, to_grey
from firmware.vision.liveness.geometry import LEFT_EYE, MOUTH_CORNERS, RIGHT_EYE

Array = npt.NDArray[np.float64]
Box = tuple[float, float, float, float]

CUES = ("screen_bezel", "glare", "moire")
"""The cue names :meth:`ScreenCues.fired` reports, in that order."""
BEZEL_SIDES = 3
"""Sides of a frame around the face that make the bezel cue."""
GLARE_FRACTION = 0.03
"""Clipped patch over an eye or the mouth, as a fraction of the face box area."""
MOIRE_PEAK = 250.0
"""Spectral peak power over the median power at its frequency. Of the 1 787 dev and calibration photos
with a face, all but one stayed under 200 (that one reached 1 000)."""
MIN_SUPPORT = 0.85
"""Share of a border's length along which it must separate a brighter from a darker side."""
EDGE_STEP = 12.0
"""Grey levels between the two sides of a border, 2 px either side of it."""
WORK_SIDE = 100
"""The face box is scaled to about this many pixels for the bezel search (speed)."""


@dataclass(frozen=True)
class ScreenCues:
    """One frame's scores: bezel sides found (0-4), glare fraction, moiré peak ratio."""

    bezel: int
    glare: float
    moire: float

    def fired(self) -> tuple[str, ...]:
        """The cues over their thresholds."""
        out = []
        if self.bezel >= BEZEL_SIDES:
            out.append("screen_bezel")
        if self.glare >= GLARE_FRACTION:
            out.append("glare")
        if self.moire >= MOIRE_PEAK:
            out.append("moire")
        return tuple(out)


def measure(image: Image, box: Box, points: Array) -> ScreenCues:
    """All three cues for the face in ``box`` with landmarks ``points`` (468 x 2+)."""
    return ScreenCues(bezel_sides(image, box), glare_fraction(image, box, points), moire_peak(image, points))


def bezel_sides(image: Image, box: Box) -> int:
    """How many sides of one frame around the face are visible: straight edges left, above,
    right and below it, half to about two face widths from its centre, running along it and
    meeting at corners (a chain of 3 sides has 2 corners). Natural scenes have straight edges
    near faces too (shoulders, doorways, hair) but rarely a cornered frame around one."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    if side <= 0:
        return 0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    reach = 1.9 * side
    h, w = image.shape[:2]
    left, top = max(0, int(cx - reach)), max(0, int(cy - reach))
    right, bottom = min(w, int(cx + reach)), min(h, int(cy + reach))
    if right - left < 8 or bottom - top < 8:
        return 0
    scale = min(1.0, WORK_SIDE / side)
    grey = to_grey(image[top:bottom, left:right])
    if scale < 1.0:
        grey = resize(grey, max(8, round(grey.shape[1] * scale)), max(8, round(grey.shape[0] * scale)))
    edge_map = edges(grey, 30, 90)
    found = line_segments(edge_map, min_length=0.8 * side * scale, max_gap=0.15 * side * scale)
    sides: dict[str, list[tuple[float, float, float]]] = {"left": [], "above": [], "right": [], "below": []}
    for scaled in found:
        sx0, sy0, sx1, sy1 = scaled / scale
        ax, ay, bx, by = sx0 + left - cx, sy0 + top - cy, sx1 + left - cx, sy1 + top - cy
        angle = math.degrees(math.atan2(by - ay, bx - ax)) % 180
        if min(angle, 180 - angle) <= 20:  # (position, start, end) along the other axis
            name, segment, limits = (
                ("above" if ay + by < 0 else "below"),
                ((ay + by) / 2, min(ax, bx), max(ax, bx)),
                (x0 - cx, x1 - cx),
            )
        elif abs(angle - 90) <= 20:
            name, segment, limits = (
                ("left" if ax + bx < 0 else "right"),
                ((ax + bx) / 2, min(ay, by), max(ay, by)),
                (y0 - cy, y1 - cy),
            )
        else:
            continue
        overlap = min(segment[2], limits[1]) - max(segment[1], limits[0])
        near = 0.5 * side <= abs(segment[0]) <= 1.8 * side and overlap >= 0.5 * (limits[1] - limits[0])
        if near and _support(grey, scaled) >= MIN_SUPPORT:
            sides[name].append(segment)
    return _cornered(sides, 0.25 * side)


def _support(grey: npt.NDArray[np.uint8], segment: Array) -> float:
    """Share of a segment's length along which one side is clearly brighter than the other,
    always the same side: a border between two surfaces is; a chance line through texture
    (hair, foliage) is not."""
    x0, y0, x1, y1 = segment
    length = math.hypot(x1 - x0, y1 - y0)
    if length < 2:
        return 0.0
    n = int(length)
    nx, ny = -(y1 - y0) / length * 2.0, (x1 - x0) / length * 2.0
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    h, w = grey.shape

    def at(x: Array, y: Array) -> Array:
        return grey[
            np.clip(np.rint(y).astype(np.int64), 0, h - 1), np.clip(np.rint(x).astype(np.int64), 0, w - 1)
        ].astype(np.float64)

    diff = at(xs + nx, ys + ny) - at(xs - nx, ys - ny)
    return float(max(np.mean(diff > EDGE_STEP), np.mean(diff < -EDGE_STEP)))


def _cornered(sides: dict[str, list[tuple[float, float, float]]], tolerance: float) -> int:
    """Sides in the longest run around the face (left, above, right, below) whose neighbours
    meet at a corner: each segment ends near the other's line."""
    order = ("left", "above", "right", "below")

    def corner(a: str, b: str) -> bool:
        for pa in sides[a]:
            for pb in sides[b]:
                if (
                    abs(pb[0] - _nearest_end(pa, pb[0])) <= tolerance
                    and abs(pa[0] - _nearest_end(pb, pa[0])) <= tolerance
                ):
                    return True
        return False

    links = [corner(order[i], order[(i + 1) % 4]) for i in range(4)]
    if all(links):
        return 4
    best = 1 if any(sides.values()) else 0
    for start in range(4):
        run = 0
        while run < 3 and links[(start + run) % 4]:
            run += 1
        best = max(best, run + 1 if run else best)
    return best


def _nearest_end(segment: tuple[float, float, float], position: float) -> float:
    """The end of ``segment`` (position, start, end) nearest ``position`` along its length."""
    return segment[1] if abs(segment[1] - position) <= abs(segment[2] - position) else segment[2]


def glare_fraction(image: Image, box: Box, points: Array) -> float:
    """Area of the largest clipped colourless patch touching an eye or the mouth, over the
    face box area (0 when there is none)."""
    x0, y0, x1, y1 = (round(v) for v in box)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    crop = image[y0:y1, x0:x1].astype(np.int16)
    clipped = (crop.min(axis=2) >= 245) & (crop.max(axis=2) - crop.min(axis=2) <= 20)
    if not clipped.any():
        return 0.0
    labels, stats = connected_blobs(clipped)
    features = [*RIGHT_EYE, *LEFT_EYE, *MOUTH_CORNERS, 13, 14]
    touched: set[int] = set()
    for x, y in points[features, :2]:
        px, py = round(x) - x0, round(y) - y0
        if 0 <= px < labels.shape[1] and 0 <= py < labels.shape[0] and labels[py, px] > 0:
            touched.add(int(labels[py, px]))
    if not touched:
        return 0.0
    return max(float(stats[t, 4]) for t in touched) / float((x1 - x0) * (y1 - y0))


def moire_peak(image: Image, points: Array) -> float:
    """The strongest isolated spectral peak of the middle of the face (between the eyes and
    the mouth), as its power over the median power of its ring of equal frequency (so a
    natural image's falling spectrum does not count), within 0.12-0.45 cycles per pixel.
    Sensor noise alone tops out around 12; a grid's alias goes far higher."""
    eyes_y = float(points[[*RIGHT_EYE, *LEFT_EYE], 1].mean())
    mouth_y = float(points[list(MOUTH_CORNERS), 1].mean())
    xl, xr = float(points[RIGHT_EYE[0], 0]), float(points[LEFT_EYE[0], 0])
    size = int(min(abs(mouth_y - eyes_y), abs(xr - xl)) * 0.9)
    size = min(size, 96) // 8 * 8
    if size < 24:
        return 0.0
    cx, cy = round((xl + xr) / 2), round((eyes_y + mouth_y) / 2)
    top, left = cy - size // 2, cx - size // 2
    h, w = image.shape[:2]
    if top < 0 or left < 0 or top + size > h or left + size > w:
        return 0.0
    grey = to_grey(image[top : top + size, left : left + size]).astype(np.float64)
    grey -= gaussian_blur(grey, 2.0)
    window = np.outer(np.hanning(size), np.hanning(size))
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey * window))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(size))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    ring = np.rint(np.hypot(fx, fy) * size).astype(np.int64)
    band = (ring >= round(0.12 * size)) & (ring <= round(0.45 * size))
    bin_width = 1.5 / size
    for k in (1, 2, 3, 4):  # the JPEG block grid: multiples of 1/8 cycle per pixel on either axis
        band &= np.abs(np.abs(fx) - k / 8) > bin_width
        band &= np.abs(np.abs(fy) - k / 8) > bin_width
    normalised = np.zeros_like(power)
    for r in np.unique(ring[band]):
        where = band & (ring == r)
        normalised[where] = power[where] / max(float(np.median(power[where])), 1e-12)
    return _isolated_peak(normalised, fx, fy, size)


def _isolated_peak(normalised: Array, fx: Array, fy: Array, size: int) -> float:
    """The highest of the ten strongest bins that stands alone along its own direction: an
    edge's spectrum is a line through the origin (its neighbours further in and out are as
    strong), a grid's alias is a point."""
    order = np.argsort(normalised, axis=None)[::-1][:10]
    for flat in order:
        iy, ix = np.unravel_index(flat, normalised.shape)
        peak = float(normalised[iy, ix])
        radius = float(np.hypot(fx[iy, ix], fy[iy, ix]))
        if peak <= 0 or radius <= 0:
            break
        neighbours = []
        for step in (-3, -2, 2, 3):
            k = (radius + step / size) / radius
            jy = round(float(fy[iy, ix]) * k * size) + size // 2
            jx = round(float(fx[iy, ix]) * k * size) + size // 2
            if 0 <= jy < size and 0 <= jx < size:
                neighbours.append(float(normalised[jy, jx]))
        if neighbours and max(neighbours) < peak / 8:
            return peak
    return 0.0

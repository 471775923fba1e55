"""Synthetic presentation attacks: sequences of camera frames made from a photo.

Species (each a sequence of frames at the camera's rate, the attacker moving as a hand does):

- ``print``: the photo printed life-size (cropped around the face, white margin, ink gamut)
  and moved in 3-D (turns of up to 8-25 degrees, drift, distance 0.3-0.7 m);
- ``print_still``: the same print held still (hand tremor only);
- ``screen``: the photo on a phone or a tablet (display gamma and tint, black bezel and body,
  the pixel grid aliased by the camera into moiré, glare in half of the sequences), moved;
- ``mask``: a life-size print with eye holes worn by the attacker, whose own eyes blink
  behind it (the photo's eyes closing, rendered), moving with the wearer's head;
- ``replay``: a video of the person turning and blinking (the photo re-posed with its mesh
  depth) played on a screen held nearly still.

Every frame then gets camera effects: defocus and motion blur, sensor noise, JPEG. Nothing
here is a real capture: figures from it are synthetic and not ISO/IEC 30107-3 conformant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.domain import Image
from firmware.imaging.image import decode_image, encode_jpeg, gaussian_blur, resize, warp_perspective
from firmware.vision.liveness.geometry import Array, iod
from occur_dev.bench.padscene import REAL_IOD_M, Camera, Head, Pose, plane_homography

SPECIES = ("print", "print_still", "screen", "mask", "replay")
Rng = np.random.Generator


@dataclass(frozen=True)
class Source:
    """A photo, its face mesh (photo px) and its re-poseable head."""

    photo: Image
    mesh: Array
    head: Head


@dataclass(frozen=True)
class Picture:
    """Something flat shown to the camera: its image, the point of it that the motion is
    centred on (px), its size (metres per px), and for a display its pixel pitch (display
    px per image px) for the moiré."""

    image: Image
    centre: tuple[float, float]
    metres_per_px: float
    display_px: float = 0.0


def trajectory(rng: Rng, n: int, fps: float, amplitude: float, z: float) -> list[Pose]:
    """A hand's motion: smooth turns of up to ``amplitude`` degrees, drift and a little
    change of distance, over ``n`` frames."""
    t = np.arange(n) / fps
    phase = rng.uniform(0, 2 * math.pi, 6)
    period = rng.uniform(1.2, 3.5, 3)
    share = rng.uniform(0.3, 1.0)
    yaw = amplitude * np.sin(2 * math.pi * t / period[0] + phase[0])
    pitch = amplitude * share * 0.7 * np.sin(2 * math.pi * t / period[1] + phase[1])
    roll = min(8.0, amplitude * 0.3) * np.sin(2 * math.pi * t / period[2] + phase[2])
    drift = rng.uniform(-0.02, 0.02, 2)
    dz = rng.uniform(-0.04, 0.04)
    return [
        Pose(
            float(yaw[i]),
            float(pitch[i]),
            float(roll[i]),
            drift[0] * t[i],
            drift[1] * t[i],
            z + dz * t[i] / max(t[-1], 1e-9),
        )
        for i in range(n)
    ]


def tremor(rng: Rng, n: int, z: float) -> list[Pose]:
    """A picture held as still as hands can: about 0.3 degrees and a millimetre."""
    poses = []
    for _ in range(n):
        yaw, pitch, roll = (float(v) for v in rng.normal(0, 0.3, 3))
        x, y = (float(v) for v in rng.normal(0, 0.001, 2))
        poses.append(Pose(yaw, pitch, roll, x, y, z))
    return poses


def printed(source: Source, rng: Rng, photo: Image | None = None) -> Picture:
    """The photo (or ``photo``, the same picture with something changed) as a life-size print:
    cropped around the face, a white margin, a printer's lower contrast and warmer white."""
    image = source.photo if photo is None else photo
    centre = source.mesh[:, :2].mean(axis=0)
    size = iod(source.mesh)
    half = size * rng.uniform(1.6, 3.2)
    h, w = image.shape[:2]
    x0, y0 = int(max(0, centre[0] - half)), int(max(0, centre[1] - half * 1.2))
    x1, y1 = int(min(w, centre[0] + half)), int(min(h, centre[1] + half * 1.3))
    crop = image[y0:y1, x0:x1].astype(np.float32)
    ink = crop * rng.uniform(0.75, 0.9) + rng.uniform(8, 25)
    ink *= np.array([rng.uniform(0.9, 1.0), rng.uniform(0.95, 1.0), 1.0], dtype=np.float32)
    margin = int(size * rng.uniform(0.0, 0.4))
    sheet = np.full((crop.shape[0] + 2 * margin, crop.shape[1] + 2 * margin, 3), 235, np.float32)
    sheet[margin : margin + crop.shape[0], margin : margin + crop.shape[1]] = ink
    metres = REAL_IOD_M * rng.uniform(0.85, 1.15) / size
    return Picture(np.clip(sheet, 0, 255).astype(np.uint8), (centre[0] - x0 + margin, centre[1] - y0 + margin), metres)


def displayed(image: Image, face: tuple[float, float], face_iod: float, rng: Rng, tablet: bool) -> Picture:
    """``image`` on a phone or tablet: display gamma and tint, black bezel, dark body; the face
    shown with an eye distance of 15-25 mm (phone) or 30-60 mm (tablet)."""
    shown_iod_m = rng.uniform(0.03, 0.06) if tablet else rng.uniform(0.015, 0.025)
    ppm = (rng.uniform(150, 270) if tablet else rng.uniform(300, 480)) / 0.0254  # display px per metre
    screen_w = rng.uniform(0.15, 0.25) if tablet else rng.uniform(0.062, 0.075)
    screen_h = screen_w * (0.75 if tablet else 2.0)
    metres = shown_iod_m / face_iod  # per image px
    h, w = image.shape[:2]
    cw, ch = int(min(w, screen_w / metres)), int(min(h, screen_h / metres))
    x0 = int(np.clip(face[0] - cw / 2, 0, w - cw))
    y0 = int(np.clip(face[1] - ch * rng.uniform(0.35, 0.55), 0, h - ch))
    content = image[y0 : y0 + ch, x0 : x0 + cw].astype(np.float32) / 255.0
    content = np.power(content, rng.uniform(0.8, 1.25)) * rng.uniform(0.9, 1.15) * 255.0
    content *= np.array([rng.uniform(1.0, 1.1), 1.0, rng.uniform(0.9, 1.0)], dtype=np.float32)
    bezel = int(rng.uniform(0.003, 0.012) / metres)
    body = np.full((ch + 2 * bezel, cw + 2 * bezel, 3), rng.uniform(5, 40), np.float32)
    body[bezel : bezel + ch, bezel : bezel + cw] = content
    centre = (face[0] - x0 + bezel, face[1] - y0 + bezel)
    return Picture(np.clip(body, 0, 255).astype(np.uint8), centre, metres, display_px=ppm * metres)


def moire(frame: Image, picture: Picture, homography: Array, amplitude: float) -> Image:
    """The display's pixel grid sampled by the camera's: each frame pixel inside the display
    takes the grid's brightness at the display position it sees, aliasing into moiré."""
    h, w = frame.shape[:2]
    ph, pw = picture.image.shape[:2]
    corners = homography @ np.array([[0, pw, pw, 0], [0, 0, ph, ph], [1.0, 1, 1, 1]])
    xs_, ys_ = corners[0] / corners[2], corners[1] / corners[2]
    x0, x1 = max(0, int(xs_.min())), min(w, int(xs_.max()) + 1)
    y0, y1 = max(0, int(ys_.min())), min(h, int(ys_.max()) + 1)
    if x1 <= x0 or y1 <= y0:
        return frame
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    inverse = np.linalg.inv(homography)
    d = inverse[2, 0] * xs + inverse[2, 1] * ys + inverse[2, 2]
    u = (inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]) / d
    v = (inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]) / d
    inside = ((u >= 0) & (v >= 0) & (u < pw) & (v < ph)).astype(np.float32)
    rows = (0.5 - 0.5 * np.cos(2 * math.pi * v * picture.display_px)).astype(np.float32)
    out = frame.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    for channel in range(3):  # RGB sub-pixel stripes, a third of a pixel apart
        stripes = (0.5 - 0.5 * np.cos(2 * math.pi * (u * picture.display_px + (2 - channel) / 3))).astype(np.float32)
        region[..., channel] *= 1.0 - inside * amplitude * (0.7 * stripes + 0.3 * rows)
    out[y0:y1, x0:x1] = np.clip(region, 0, 255).astype(np.uint8)
    return out


def glare(frame: Image, at: tuple[float, float], sigma: float, peak: float) -> Image:
    """A reflected light: a bright colourless blob added to the frame."""
    h, w = frame.shape[:2]
    reach = 3 * sigma
    x0, x1 = max(0, int(at[0] - reach)), min(w, int(at[0] + reach) + 1)
    y0, y1 = max(0, int(at[1] - reach)), min(h, int(at[1] + reach) + 1)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    ys, xs = np.mgrid[y0:y1, x0:x1]
    blob = (peak * np.exp(-((xs - at[0]) ** 2 + (ys - at[1]) ** 2) / (2 * sigma**2))).astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(out[y0:y1, x0:x1].astype(np.float32) + blob[..., None], 0, 255).astype(np.uint8)
    return out


def camera_effects(frame: Image, rng: Rng, blur: float, noise: float, quality: int) -> Image:
    """Defocus blur, sensor noise and JPEG, as a camera delivers a frame. The noise is a slice
    of a field twice the frame's size at a random offset (much cheaper than drawing it anew)."""
    frame = gaussian_blur(frame, blur)
    h, w = frame.shape[:2]
    key = (h, w)
    if key not in _NOISE:
        _NOISE[key] = np.random.default_rng(0).standard_normal((2 * h, 2 * w, 3), dtype=np.float32)
    y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
    noisy = frame.astype(np.float32) + _NOISE[key][y : y + h, x : x + w] * np.float32(noise)
    return decode_image(encode_jpeg(np.clip(noisy, 0, 255).astype(np.uint8), quality))


_NOISE: dict[tuple[int, int], npt.NDArray[np.float32]] = {}


def background(images: list[Image], rng: Rng, camera: Camera) -> Image:
    """A blurred scene behind the attacker, or a plain wall."""
    if images and rng.random() < 0.7:
        scene = images[int(rng.integers(len(images)))]
        return np.asarray(gaussian_blur(resize(scene, camera.width, camera.height), rng.uniform(1, 4)), dtype=np.uint8)
    return np.full((camera.height, camera.width, 3), rng.uniform(60, 200, 3), np.uint8)


def sequence(
    species: str, source: Source, rng: Rng, camera: Camera, n: int, fps: float, scenes: list[Image]
) -> Iterator[Image]:
    """The ``n`` frames of one attack of ``species`` made from ``source``."""
    wall = background(scenes, rng, camera)
    frames: Iterator[Image]
    blur, noise, quality = rng.uniform(0.3, 1.4), rng.uniform(1.0, 4.0), int(rng.integers(70, 95))
    gain = rng.uniform(0.8, 1.15)
    if species in ("print", "print_still"):
        picture = printed(source, rng)
        z = rng.uniform(0.3, 0.7)
        poses = trajectory(rng, n, fps, rng.uniform(8, 25), z) if species == "print" else tremor(rng, n, z)
        frames = (_show(picture, pose, camera, wall) for pose in poses)
    elif species == "mask":
        closing = _blinking(rng, n, fps)
        z, cut = rng.uniform(0.35, 0.6), int(rng.integers(1 << 31))
        poses = trajectory(rng, n, fps, rng.uniform(5, 20), z)
        frames = (
            _show(printed(source, np.random.default_rng(cut), source.head.blink_photo(c)), pose, camera, wall)
            for c, pose in zip(closing, poses, strict=True)
        )
    elif species == "screen":
        frames = _screen(source, rng, camera, n, fps, wall)
    elif species == "replay":
        frames = _replay(source, rng, camera, n, fps, wall)
    else:
        raise ValueError(f"unknown attack species {species!r} (choose {', '.join(SPECIES)})")
    for frame in frames:
        lit = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        yield camera_effects(lit, rng, blur, noise, quality)


def _show(picture: Picture, pose: Pose, camera: Camera, wall: Image) -> Image:
    return warp_perspective(picture.image, plane_homography(picture.centre, picture.metres_per_px, pose, camera), wall)


def _blinking(rng: Rng, n: int, fps: float) -> list[float]:
    """Eyelid closure per frame: blinks of 0.15-0.3 s at 0.3-0.8 per second."""
    closing = np.zeros(n)
    t = rng.uniform(0.1, 1.0)
    while t < n / fps:
        length = rng.uniform(0.15, 0.3)
        for i in range(n):
            phase = (i / fps - t) / length
            if 0 <= phase <= 1:
                closing[i] = max(closing[i], math.sin(math.pi * phase))
        t += length + rng.exponential(1 / rng.uniform(0.3, 0.8))
    return [float(c) for c in closing]


def _screen(source: Source, rng: Rng, camera: Camera, n: int, fps: float, wall: Image) -> Iterator[Image]:
    tablet = rng.random() < 0.5
    centre = source.mesh[:, :2].mean(axis=0)
    picture = displayed(source.photo, (centre[0], centre[1]), iod(source.mesh), rng, tablet)
    z = rng.uniform(0.3, 0.6) if tablet else rng.uniform(0.15, 0.3)
    amplitude, shine = rng.uniform(0.03, 0.12), rng.random() < 0.5
    spot = (rng.uniform(-0.6, 0.6, 2), rng.uniform(0.1, 0.35), rng.uniform(150, 300))
    for pose in trajectory(rng, n, fps, rng.uniform(5, 20), z):
        h = plane_homography(picture.centre, picture.metres_per_px, pose, camera)
        frame = moire(warp_perspective(picture.image, h, wall), picture, h, amplitude)
        if shine:
            cx, cy = picture.centre
            half = iod(source.mesh) / 2
            ends = h @ np.array([[cx - half, cy, 1.0], [cx + half, cy, 1.0]]).T
            (ax, bx), (ay, by) = ends[0] / ends[2], ends[1] / ends[2]
            width = 2.2 * math.hypot(bx - ax, by - ay)
            at = ((ax + bx) / 2 + spot[0][0] * width, (ay + by) / 2 + spot[0][1] * width)
            frame = glare(frame, at, spot[1] * width, spot[2])
        yield frame


def _replay(source: Source, rng: Rng, camera: Camera, n: int, fps: float, wall: Image) -> Iterator[Image]:
    """A video of the head turning and blinking (rendered), played on a screen held still."""
    closing = _blinking(rng, n, fps)
    turns = trajectory(rng, n, fps, rng.uniform(8, 25), rng.uniform(0.45, 0.65))
    tablet = rng.random() < 0.5
    z = rng.uniform(0.3, 0.5) if tablet else rng.uniform(0.15, 0.25)
    amplitude = rng.uniform(0.03, 0.12)
    held, device = tremor(rng, n, z), int(rng.integers(1 << 31))
    for pose, shut, hand in zip(turns, closing, held, strict=True):
        video = source.head.render(Pose(pose.yaw, pose.pitch, pose.roll, 0.0, 0.0, pose.z), camera, shut)
        centre = (camera.width / 2, camera.height / 2)
        picture = displayed(video, centre, camera.focal * REAL_IOD_M / pose.z, np.random.default_rng(device), tablet)
        h = plane_homography(picture.centre, picture.metres_per_px, hand, camera)
        yield moire(warp_perspective(picture.image, h, wall), picture, h, amplitude)


def live_render(source: Source, rng: Rng, camera: Camera, n: int, fps: float) -> Iterator[Image]:
    """Not an attack: the photo re-posed as a head turning (10-20 degrees) and blinking, seen
    directly by the camera. Synthetic; used only to time the liveness decision, never as a
    bona fide presentation."""
    closing = _blinking(rng, n, fps)
    blur, noise, quality = rng.uniform(0.3, 1.0), rng.uniform(1.0, 3.0), int(rng.integers(75, 95))
    for pose, shut in zip(trajectory(rng, n, fps, rng.uniform(10, 20), rng.uniform(0.45, 0.65)), closing, strict=True):
        yield camera_effects(source.head.render(pose, camera, shut), rng, blur, noise, quality)

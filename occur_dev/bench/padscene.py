"""Geometry of the synthetic attack scenes: a pinhole camera, a flat picture posed in 3-D, and
a photo re-posed as a head with the depth of its own face mesh.

All synthetic: the flat picture is exact (a plane seen through a pinhole is a homography);
the "head" is the photo's mesh depth pushed through a piecewise-affine warp, good enough to
give a landmark model real parallax to find and a source for replayed video, never a stand-in
for a live person when measuring how often real users are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.domain import Image
from firmware.imaging.image import darken_line, delaunay, remap, triangle_ids
from firmware.vision.liveness.geometry import iod

Array = npt.NDArray[np.float64]
REAL_IOD_M = 0.063
"""A typical adult inter-ocular distance; prints and renders are sized with it."""


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: frame size (px) and focal length (px)."""

    width: int = 640
    height: int = 480
    focal: float = 520.0

    def matrix(self) -> Array:
        """The intrinsic matrix."""
        return np.array([[self.focal, 0, self.width / 2], [0, self.focal, self.height / 2], [0, 0, 1.0]])


@dataclass(frozen=True)
class Pose:
    """Rotation (degrees: yaw about the vertical axis, pitch, roll) and the position of the
    object's centre (metres, camera coordinates; z is the distance)."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    x: float = 0.0
    y: float = 0.0
    z: float = 0.5


def rotation(pose: Pose) -> Array:
    """The rotation matrix of ``pose`` (roll, then pitch, then yaw)."""
    a, b, c = (math.radians(v) for v in (pose.yaw, pose.pitch, pose.roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return np.asarray(ry @ rx @ rz, dtype=np.float64)


def plane_homography(centre: tuple[float, float], metres_per_px: float, pose: Pose, camera: Camera) -> Array:
    """Homography from a picture's pixels to the frame when the picture is a plane whose point
    ``centre`` (picture px) sits at the pose's position, ``metres_per_px`` giving its size."""
    s = metres_per_px
    to_plane = np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1.0]])
    r = rotation(pose)
    extrinsic = np.c_[r[:, 0], r[:, 1], [pose.x, pose.y, pose.z]]
    h = camera.matrix() @ extrinsic @ to_plane
    return np.asarray(h / h[2, 2], dtype=np.float64)


def project(points: Array, camera: Camera) -> Array:
    """Camera-space points (N x 3, metres) to frame pixels (N x 2)."""
    k = camera.matrix()
    p = points @ k.T
    return np.asarray(p[:, :2] / p[:, 2:3], dtype=np.float64)


DEPTH_SCALE = 0.32
"""Factor on the mesh model's relative depth for the render, set so that a turn gives about the
published nose parallax of a real head (0.18 x IOD x sin(yaw)); see ``occur bench pad``."""


class Head:
    """A photo re-posed in 3-D with its face mesh as the depth: what a camera would see if the
    face in the photo turned. Around the mesh, two rings of extra points carry the hair along
    with the head; the photo's border stays where it is, so the background does not turn.

    Args:
        photo: the source picture (BGR).
        mesh: its 468 landmark points (x, y, z in photo pixels; z smaller is nearer).
    """

    def __init__(self, photo: Image, mesh: Array, depth_scale: float = DEPTH_SCALE) -> None:
        self.photo = photo
        mesh = mesh.copy()
        mesh[:, 2] = (mesh[:, 2] - np.median(mesh[:, 2])) * depth_scale
        h, w = photo.shape[:2]
        self.scale = REAL_IOD_M / iod(mesh)  # metres per photo pixel
        centre = mesh[:, :2].mean(axis=0)
        radius = float(np.percentile(np.hypot(*(mesh[:, :2] - centre).T), 95))
        back = float(mesh[:, 2].max())
        rings = []
        for factor, depth in ((1.25, back * 1.1), (1.7, back * 1.4)):
            angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
            ring = np.c_[centre[0] + factor * radius * np.cos(angles), centre[1] + factor * radius * np.sin(angles)]
            rings.append(np.c_[ring, np.full(len(ring), depth)])
        xs, ys = np.linspace(0, w - 1, 5), np.linspace(0, h - 1, 5)
        border = [(x, y, back) for x in xs for y in ys if x in (0, w - 1) or y in (0, h - 1)]
        self.source = np.vstack([mesh, *rings, np.array(border)])  # photo px, depth in px
        self.moving = len(self.source) - len(border)  # the frame's border points stay where they are
        self.triangles = delaunay(self.source[:, :2])
        self.centre = np.array([centre[0], centre[1], float(np.median(mesh[:, 2])) + 1.2 * iod(mesh)])
        self.eyelids = [(u, mesh[lo, :2].copy()) for u, lo in EYELIDS]
        self._blinks: dict[float, Image] = {}

    def render(self, pose: Pose, camera: Camera, closed: float = 0.0) -> Image:
        """The frame (camera size) of the head at ``pose``; ``closed`` (0-1) lowers the upper
        eyelids that far towards the lower ones (a blink)."""
        vertices = self.source.copy()
        if closed > 0:
            for index, target in self.eyelids:
                vertices[index, :2] += closed * (target - vertices[index, :2])
        local = (vertices - self.centre) * self.scale
        offset = np.array([pose.x, pose.y, pose.z + self.centre[2] * self.scale])
        world = local @ rotation(pose).T + offset
        world[self.moving :] = local[self.moving :] + np.array([0.0, 0.0, pose.z + self.centre[2] * self.scale])
        dst = project(world, camera)
        order = np.argsort(-world[self.triangles].mean(axis=1)[:, 2])  # far first, near painted over
        return self._lashes(self._warp(dst, order, camera.height, camera.width), dst, closed)

    def blink_photo(self, closed: float) -> Image:
        """The photo itself with the upper eyelids lowered ``closed`` (0-1) of the way."""
        key = round(closed * 4) / 4
        if key not in self._blinks:
            vertices = self.source[:, :2].copy()
            for index, target in self.eyelids:
                vertices[index] += key * (target - vertices[index])
            h, w = self.photo.shape[:2]
            warped = self._warp(vertices, np.arange(len(self.triangles)), h, w)
            self._blinks[key] = self.photo if key == 0 else self._lashes(warped, vertices, key)
        return self._blinks[key]

    def _lashes(self, image: Image, vertices: Array, closed: float) -> Image:
        """A shut eye shows its lash line: drawn along the closed lids, darker as they close."""
        if closed < 0.5:
            return image
        for lower in LOWER_LIDS:
            points = vertices[list(lower), :2]
            width = float(np.hypot(*(points[0] - points[-1])))
            image = darken_line(image, points, round(0.1 * width), 1.0 - 0.7 * (closed - 0.5) / 0.5)
        return image

    def _warp(self, dst: Array, order: npt.NDArray[np.int64], height: int, width: int) -> Image:
        """Piecewise-affine warp: each mesh triangle of the photo to ``dst`` (painted in ``order``)."""
        tris = self.triangles[order]
        ids = triangle_ids(height, width, dst[tris])
        a = np.concatenate([dst[tris], np.ones((len(tris), 3, 1))], axis=2)
        inverse = np.linalg.pinv(a) @ self.source[tris][:, :, :2]  # per triangle: frame px -> photo px
        ys, xs = np.mgrid[0:height, 0:width]
        m = inverse[np.maximum(ids, 0)]
        map_x = xs * m[..., 0, 0] + ys * m[..., 1, 0] + m[..., 2, 0]
        map_y = xs * m[..., 0, 1] + ys * m[..., 1, 1] + m[..., 2, 1]
        outside = ids < 0
        map_x[outside], map_y[outside] = -1e4, -1e4
        return remap(self.photo, map_x.astype(np.float32), map_y.astype(np.float32))


EYELIDS = (
    (160, 144), (159, 145), (158, 153), (161, 163), (157, 154), (246, 7), (173, 155),
    (387, 373), (386, 374), (385, 380), (388, 390), (384, 381), (466, 249), (398, 382),
)  # fmt: skip
"""Upper-lid points of the canonical mesh's eye contours and the lower-lid point under each."""
LOWER_LIDS = ((33, 7, 163, 144, 145, 153, 154, 155, 133), (263, 249, 390, 373, 374, 380, 381, 382, 362))
"""The lower-lid contour of each eye, corner to corner."""

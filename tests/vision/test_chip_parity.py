"""Face chips against their references, given the same five points.

- dlib's ResNet chips against dlib's own ``get_face_chip_details`` + ``extract_image_chip`` (the
  C++ reference in ``dlib_ref``, built against Debian's libdlib-dev), on dev photos, padded
  calibration photos and enlarged photos (dlib's image pyramid, one and two levels down);
- SFace chips against OpenCV's ``FaceRecognizerSF.alignCrop`` (the cropping OpenCV Zoo's SFace
  is used with), with the original ONNX from the pinned wheel.

The five points come from the face mesh, rounded to integers for dlib (its
``full_object_detection`` holds integer points).
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from firmware.config import VisionConfig
from firmware.domain import Detection, Image
from firmware.imaging.image import read_image
from firmware.vision.align import ChipTemplate, align, chip_transform, similarity
from firmware.vision.dlib_chip import dlib_chip
from firmware.vision.engine import FaceEngine
from tests.conftest import SHARED
from tests.vision.test_embed_parity import source_model

DLIB_UNIT = np.array(
    [(0.8595674595992, 0.2134981538014), (0.6460604764104, 0.2289674387677), (0.1205750620789, 0.2137274526848),
     (0.3340850613712, 0.2290642403242), (0.4901123135679, 0.6277975316475)]
)  # fmt: skip
"""dlib's 5-point face template in its unit face frame (get_face_chip_details)."""
DLIB_150 = (DLIB_UNIT + 0.25) / 1.5 * 150  # padding 0.25, 150 px
DLIB_MESH = (263, 362, 33, 133, 2)  # mesh indices of dlib's five points (left eye outer ... nose base)
DLIB_FIVE = ChipTemplate("dlib_5", 150, (0, 1, 2, 3, 4), tuple((float(x), float(y)) for x, y in DLIB_150), "dlib")


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(VisionConfig(threads=1).for_photos(), fused=False)


def pad(image: Image, fraction: float) -> Image:
    n = round(fraction * max(image.shape[:2]))
    out = np.zeros((image.shape[0] + 2 * n, image.shape[1] + 2 * n, 3), np.uint8)
    out[n : n + image.shape[0], n : n + image.shape[1]] = image
    return out


def sample_images() -> list[tuple[str, Image]]:  # (name, image)
    """Dev photos, padded calibration crops, and two photos enlarged 3x and 6x."""
    faces = SHARED / "data" / "faces"
    dev = sorted(p for p in faces.glob("*/*.jpg") if p.parent.name not in ("noface", "group"))[::6]
    calibration = sorted((SHARED / "data" / "calibration").glob("*/*.jpg"))[::300]
    out = [(p.name, read_image(p)) for p in dev]
    out += [(p.name, pad(read_image(p), 0.5)) for p in calibration]
    small = read_image(faces / "john_simm" / sorted(p.name for p in (faces / "john_simm").glob("*.jpg"))[0])
    for k in (3, 6):
        out.append((f"john_simm x{k}", np.repeat(np.repeat(small, k, axis=0), k, axis=1)))
    return out


def test_dlib_chips_match_dlib_cpp(engine: FaceEngine, dlib_ref: Path) -> None:
    records, ours, scales = b"", [], []
    for _, image in sample_images():
        faces = engine.faces(image, embed=False)
        if not faces:
            continue  # a photo whose face neither detector finds (one in the dev set)
        mesh = engine.mesh(image, faces[0])
        assert mesh is not None
        points = np.round(mesh.points[list(DLIB_MESH), :2].astype(np.float64))
        scales.append(float(np.sqrt(abs(np.linalg.det(similarity(DLIB_150, points)[:, :2])))))
        face = Detection(faces[0].detection.box, tuple((float(x), float(y)) for x, y in points), 1.0)
        ours.append(align(image, face, DLIB_FIVE)[:, :, ::-1])
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        records += struct.pack("<ii", image.shape[1], image.shape[0]) + points.astype("<f8").tobytes() + rgb.tobytes()
    out = subprocess.run([str(dlib_ref), "--chip", "150", "0.25"], input=records, capture_output=True, check=True)
    reference = np.frombuffer(out.stdout, np.uint8).reshape(-1, 150, 150, 3)
    diff = np.abs(np.stack(ours).astype(np.int16) - reference.astype(np.int16))
    assert sum(s > 2 for s in scales) >= 4 and max(scales) > 4, scales  # the pyramid, one and two levels
    # identical but for the last bit of a blend landing on an integer (dlib solves its chip
    # transform by least squares, which rounds differently from ours)
    assert diff.max() <= 1, diff.reshape(len(ours), -1).max(axis=1)
    assert (diff > 0).mean() < 1e-3


def test_dlib_chips_outside_the_image_are_black(engine: FaceEngine) -> None:
    """A chip reaching past the photo's edge is black there, and a chip wholly outside is all
    black (dlib's rule: a pixel needs all four of its bilinear taps inside)."""
    image = np.full((100, 100, 3), 200, np.uint8)
    to_image = np.array([[0.5, 0.0, 60.0], [0.0, 0.5, 10.0]])  # a 75 px window from (60, 10)
    chip = dlib_chip(image, to_image, 150)
    assert chip[:, :40].min() == 200 and chip[:, -40:].max() == 0
    far = np.array([[0.5, 0.0, 1000.0], [0.0, 0.5, 1000.0]])
    assert dlib_chip(image, far, 150).max() == 0


ARCFACE = ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041))
ARCFACE_FIVE = ChipTemplate("arcface_5", 112, (0, 1, 2, 3, 4), ARCFACE)
RIGHT_EYE_RING = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE_RING = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)


def test_sface_chips_match_opencv_align_crop(engine: FaceEngine, build_module: object, tmp_path: Path) -> None:
    """Eye centres, nose tip and mouth corners from the mesh, given to both. Faces more than
    twice the chip's size are sampled from a halved image on our side, where OpenCV skips
    pixels (aliasing): those are compared by embedding instead (measured cosine 0.968-0.996 on
    this sample; the same-person mean is about 0.7)."""
    import cv2

    onnx = source_model(build_module, "sface.toml", tmp_path)
    reference = cv2.FaceRecognizerSF.create(str(onnx), "")
    sface = next(e for e in engine.embedders if e.name == "sface")
    pixel_checked, embedding_checked = 0, 0
    for _, image in sample_images():
        faces = engine.faces(image, embed=False)
        if not faces:
            continue
        mesh = engine.mesh(image, faces[0])
        assert mesh is not None
        p = mesh.points[:, :2].astype(np.float64)
        five = [p[list(RIGHT_EYE_RING)].mean(axis=0), p[list(LEFT_EYE_RING)].mean(axis=0), p[1], p[61], p[291]]
        x0, y0, x1, y1 = faces[0].detection.box
        row = np.array([[x0, y0, x1 - x0, y1 - y0, *np.ravel(five), 0.9]], np.float32)
        theirs = reference.alignCrop(image, row)
        face = Detection(faces[0].detection.box, tuple((float(x), float(y)) for x, y in five), 1.0)
        ours = align(image, face, ARCFACE_FIVE)
        scale = float(np.sqrt(abs(np.linalg.det(chip_transform(face, ARCFACE_FIVE)[:, :2]))))
        if scale <= 2.0:
            diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
            assert diff.mean() < 0.02 and diff.max() <= 8, (scale, diff.mean(), diff.max())
            pixel_checked += 1
        else:
            assert float(sface.embed(ours) @ sface.embed(theirs)) > 0.95
            embedding_checked += 1
    assert pixel_checked >= 10 and embedding_checked >= 5, (pixel_checked, embedding_checked)

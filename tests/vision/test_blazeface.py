"""BlazeFace post-processing on synthetic model outputs (no model needed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from firmware.vision.blazeface import (
    FULL_RANGE,
    SHORT_RANGE,
    Letterbox,
    anchors,
    decode,
    detections,
    weighted_nms,
)


def test_short_range_anchor_layout() -> None:
    a = anchors(SHORT_RANGE)
    assert a.shape == (896, 2)
    assert np.allclose(a[0], a[1]) and np.allclose(a[0], [0.5 / 16, 0.5 / 16])  # 2 per location, 16x16
    assert np.allclose(a[2], [1.5 / 16, 0.5 / 16])
    assert np.allclose(a[511], [15.5 / 16, 15.5 / 16])
    assert np.allclose(a[512:518], [0.5 / 8, 0.5 / 8])  # 3 layers of stride 16 x 2 = 6 per location, 8x8
    assert np.allclose(a[518], [1.5 / 8, 0.5 / 8])
    assert np.allclose(a[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchor_layout() -> None:
    a = anchors(FULL_RANGE)
    assert a.shape == (2304, 2)
    assert np.allclose(a[0], [0.5 / 48, 0.5 / 48]) and np.allclose(a[1], [1.5 / 48, 0.5 / 48])


def outputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((1, n, 16), np.float32), np.full((1, n, 1), -20.0, np.float32)


def test_decode_box_keypoints_and_score() -> None:
    a = anchors(SHORT_RANGE)
    reg, raw = outputs(896)
    reg[0, 600, :4] = [8, -4, 32, 40]
    reg[0, 600, 4:6] = [-10, -6]  # right eye offset from the anchor centre
    raw[0, 600, 0] = 0.0
    boxes, kps, scores = decode(reg, raw, SHORT_RANGE, a)
    cx, cy = a[600] + np.array([8, -4]) / 128
    assert np.allclose(boxes[600], [cx - 16 / 128, cy - 20 / 128, cx + 16 / 128, cy + 20 / 128])
    assert np.allclose(kps[600, 0], a[600] + np.array([-10, -6]) / 128)
    assert scores[600] == pytest.approx(0.5) and scores[0] < 1e-8


def test_extreme_logits_do_not_overflow() -> None:
    a = anchors(SHORT_RANGE)
    reg, raw = outputs(896)
    raw[0, :2, 0] = [1e9, -1e9]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, scores = decode(reg, raw, SHORT_RANGE, a)
    assert scores[0] == pytest.approx(1.0) and scores[1] == pytest.approx(0.0)


def test_wrong_shapes_are_refused() -> None:
    reg, raw = outputs(2304)
    with pytest.raises(ValueError, match="expected 896 anchors"):
        decode(reg, raw, SHORT_RANGE, anchors(SHORT_RANGE))


def test_weighted_nms_merges_clusters_and_drops_weak_candidates() -> None:
    boxes = np.array(
        [[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8], [0.6, 0.6, 0.8, 0.8]], np.float32
    )
    kps = np.repeat(boxes[:, None, :2], 6, axis=1)
    scores = np.array([0.9, 0.6, 0.7, 0.2], np.float32)
    merged = weighted_nms(boxes, kps, scores, score_threshold=0.5, iou_threshold=0.3)
    assert [round(s, 2) for _, _, s in merged] == [0.9, 0.7]
    expected_x0 = (0.1 * 0.9 + 0.12 * 0.6) / 1.5
    assert merged[0][0][0] == pytest.approx(expected_x0)
    assert merged[0][1][0, 0] == pytest.approx(expected_x0)
    assert np.allclose(merged[1][0], [0.6, 0.6, 0.8, 0.8])  # the 0.2 candidate was below threshold


def test_letterbox_maps_back_to_image_pixels() -> None:
    lb = Letterbox(640, 480, 128)
    assert lb.scale == pytest.approx(0.2) and lb.pad == pytest.approx((0.0, 16.0))
    points = lb.to_image(np.array([[0.5, 0.5], [0.0, 16 / 128], [1.0, 112 / 128]], np.float32))
    assert np.allclose(points, [[320, 240], [0, 0], [640, 480]])


def test_detections_end_to_end_on_a_synthetic_face() -> None:
    a = anchors(SHORT_RANGE)
    reg, raw = outputs(896)
    lb = Letterbox(640, 480, 128)
    # a 160x200 px face centred at (320, 200) in the image, seen by three neighbouring anchors
    centre_rel = (np.array([320, 200]) * lb.scale + np.array(lb.pad)) / 128
    nearest = np.argsort(np.linalg.norm(a - centre_rel, axis=1))[:3]
    for i, logit in zip(nearest, (4.0, 2.0, 1.0), strict=True):
        reg[0, i, :2] = (centre_rel - a[i]) * 128
        reg[0, i, 2:4] = [160 * lb.scale, 200 * lb.scale]
        raw[0, i, 0] = logit
    found = detections(reg, raw, SHORT_RANGE, a, lb)
    assert len(found) == 1
    face = found[0]
    assert face.box == pytest.approx((240, 100, 400, 300), abs=1e-3)
    assert face.width == pytest.approx(160, abs=1e-3) and face.score == pytest.approx(1 / (1 + np.exp(-4.0)))
    assert len(face.keypoints) == 6


def test_boxes_are_clipped_to_the_image() -> None:
    a = anchors(SHORT_RANGE)
    reg, raw = outputs(896)
    reg[0, 0, 2:4] = [60, 60]
    raw[0, 0, 0] = 5.0
    (face,) = detections(reg, raw, SHORT_RANGE, a, Letterbox(640, 480, 128))
    assert face.box[0] == 0.0 and face.box[1] == 0.0

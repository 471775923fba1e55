"""BlazeFace post-processing in numpy: anchors, decoding, weighted NMS, letterbox mapping.

MediaPipe's BlazeFace models output, per anchor, 16 regressors (box centre offset, box size,
six keypoints, in pixels of the model input) and one raw score. This module turns those tensors
into :class:`~firmware.domain.Detection` values in the caller's image pixels. The model itself is
run elsewhere (the LiteRT runtime adapter), so everything here is testable without a model.

Variants (facts from MediaPipe's graph options):

- short range (faces within about 2 m, the door case): 128x128 input, anchor strides
  8, 16, 16, 16 with two anchors per location per layer, 896 anchors, score threshold 0.5;
- full range (up to about 5 m): 192x192 input, one layer of stride 4 with one anchor per
  location, 2304 anchors, score threshold 0.6.

Anchors have a fixed size of 1 (relative), so widths and heights decode straight from the
regressors. Overlapping detections are merged by weighted NMS (MediaPipe's ``WEIGHTED``
overlap type): the boxes and keypoints of a cluster are averaged, weighted by score, which is
steadier from frame to frame than keeping the single best box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.domain import Detection

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Variant:
    """The anchor layout and thresholds of one BlazeFace model."""

    name: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    score_threshold: float
    iou_threshold: float = 0.3


SHORT_RANGE = Variant("short_range", 128, (8, 16, 16, 16), 2, 0.5)
FULL_RANGE = Variant("full_range", 192, (4,), 1, 0.6)
_SCORE_CLIP = 100.0


def anchors(variant: Variant) -> FloatArray:
    """Anchor centres as an ``(N, 2)`` array of ``(x, y)`` in [0, 1], in the model's output order.

    Consecutive layers with the same stride share one feature map, and their anchors are
    interleaved per location, as the model's output is.
    """
    centres: list[tuple[float, float]] = []
    layer = 0
    strides = variant.strides
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        per_location = variant.anchors_per_layer * (same - layer)
        size = int(np.ceil(variant.input_size / strides[layer]))
        for y in range(size):
            for x in range(size):
                centres.extend([((x + 0.5) / size, (y + 0.5) / size)] * per_location)
        layer = same
    return np.asarray(centres, dtype=np.float32)


def decode(
    regressors: FloatArray, raw_scores: FloatArray, variant: Variant, anchor_xy: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Decode raw outputs into boxes, keypoints and scores, all relative to the model input.

    Args:
        regressors: ``(N, 16)`` or ``(1, N, 16)``.
        raw_scores: ``(N,)``, ``(N, 1)`` or ``(1, N, 1)`` logits.
        anchor_xy: from :func:`anchors`, ``(N, 2)``.

    Returns:
        ``boxes (N, 4)`` as ``x0, y0, x1, y1``; ``keypoints (N, 6, 2)``; ``scores (N,)`` in [0, 1].

    Raises:
        ValueError: shapes that do not match the variant's anchors.
    """
    reg = np.asarray(regressors, dtype=np.float32).reshape(-1, 16)
    logits = np.asarray(raw_scores, dtype=np.float32).reshape(-1)
    if reg.shape[0] != anchor_xy.shape[0] or logits.shape[0] != anchor_xy.shape[0]:
        raise ValueError(
            f"{variant.name}: expected {anchor_xy.shape[0]} anchors, "
            f"got regressors {reg.shape[0]}, scores {logits.shape[0]}"
        )
    scale = float(variant.input_size)
    centre = reg[:, 0:2] / scale + anchor_xy
    half = reg[:, 2:4] / scale / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = reg[:, 4:16].reshape(-1, 6, 2) / scale + anchor_xy[:, None, :]
    clipped = np.clip(logits.astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)  # exp(100) overflows float32
    scores = 1.0 / (1.0 + np.exp(-clipped))
    return boxes, keypoints, scores.astype(np.float32)


def _iou(box: FloatArray, others: FloatArray) -> FloatArray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def weighted_nms(
    boxes: FloatArray, keypoints: FloatArray, scores: FloatArray, score_threshold: float, iou_threshold: float
) -> list[tuple[FloatArray, FloatArray, float]]:
    """Merge overlapping candidates; returns ``(box, keypoints, score)`` best first.

    Each cluster (candidates overlapping the best remaining one by more than ``iou_threshold``)
    becomes one detection whose box and keypoints are the score-weighted mean of the cluster and
    whose score is the best one's.
    """
    keep = np.flatnonzero(scores >= score_threshold)
    order = keep[np.argsort(-scores[keep], kind="stable")]
    merged: list[tuple[FloatArray, FloatArray, float]] = []
    while order.size:
        best = order[0]
        overlap = _iou(boxes[best], boxes[order])
        cluster = order[overlap > iou_threshold]
        weights = scores[cluster][:, None]
        total = float(weights.sum())
        box = (boxes[cluster] * weights).sum(axis=0) / total
        kps = (keypoints[cluster] * weights[:, :, None]).sum(axis=0) / total
        merged.append((box.astype(np.float32), kps.astype(np.float32), float(scores[best])))
        order = order[overlap <= iou_threshold]
    return merged


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square model input: scaled, then padded evenly.

    Keeping the aspect ratio (instead of stretching) keeps faces round, which the detector
    was trained on.
    """

    image_width: int
    image_height: int
    input_size: int

    @property
    def scale(self) -> float:
        """Model-input pixels per image pixel."""
        return self.input_size / max(self.image_width, self.image_height)

    @property
    def pad(self) -> tuple[float, float]:
        """Left and top padding, in model-input pixels."""
        return (
            (self.input_size - self.image_width * self.scale) / 2.0,
            (self.input_size - self.image_height * self.scale) / 2.0,
        )

    def to_image(self, xy: FloatArray) -> FloatArray:
        """Map ``(..., 2)`` coordinates relative to the model input (0..1) to image pixels."""
        pad = np.asarray(self.pad, dtype=np.float32)
        return ((xy * self.input_size - pad) / self.scale).astype(np.float32)


def detections(
    regressors: FloatArray,
    raw_scores: FloatArray,
    variant: Variant,
    anchor_xy: FloatArray,
    letterbox: Letterbox,
    score_threshold: float | None = None,
) -> list[Detection]:
    """Full post-processing: decode, weighted NMS, map to image pixels, clip to the image.

    Args:
        score_threshold: overrides the variant's default.
    """
    boxes, keypoints, scores = decode(regressors, raw_scores, variant, anchor_xy)
    threshold = variant.score_threshold if score_threshold is None else score_threshold
    found = []
    limit = np.asarray([letterbox.image_width, letterbox.image_height], dtype=np.float32)
    for box, kps, score in weighted_nms(boxes, keypoints, scores, threshold, variant.iou_threshold):
        corners = np.clip(letterbox.to_image(box.reshape(2, 2)), 0, limit)
        points = letterbox.to_image(kps)
        found.append(
            Detection(
                box=(float(corners[0, 0]), float(corners[0, 1]), float(corners[1, 0]), float(corners[1, 1])),
                keypoints=tuple((float(x), float(y)) for x, y in points),
                score=score,
            )
        )
    return found

"""Face tracks across frames: which face in this frame is which face in the last ones.

A track follows one face by box overlap (IoU) from frame to frame; a track that has not been
seen for ``max_gap_frames`` frames ends the visit. Each track is decided at most once (its
``decided`` outcome; see :class:`firmware.loop.visit.Visit` for how). Counting frames rather
than seconds makes a replay decide the same way paced or not.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@dataclass
class Track:
    """One face followed across frames; ``decided`` is its visit's outcome once decided."""

    id: int
    box: Box
    first_frame: int
    last_frame: int
    decided: str | None = None


class Tracker:
    """Assigns detections to tracks and reports ended visits."""

    def __init__(self, max_gap_frames: int, min_iou: float = 0.3) -> None:
        self.max_gap_frames = max_gap_frames
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self._next_id = 1

    def assign(self, frame: int, boxes: list[Box]) -> list[Track]:
        """The track of each box (new tracks for new faces), greedily by best overlap."""
        pairs = sorted(
            ((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)), reverse=True
        )
        result: list[Track | None] = [None] * len(boxes)
        used: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.min_iou or ti in used or result[bi] is not None:
                continue
            used.add(ti)
            result[bi] = self.tracks[ti]
        for bi, box in enumerate(boxes):
            track = result[bi]
            if track is None:
                track = Track(self._next_id, box, frame, frame)
                self._next_id += 1
                self.tracks.append(track)
                result[bi] = track
            track.box, track.last_frame = box, frame
        return [t for t in result if t is not None]

    def expire(self, frame: int) -> list[Track]:
        """Tracks not seen for more than ``max_gap_frames`` frames: their visits are over."""
        ended = [t for t in self.tracks if frame - t.last_frame > self.max_gap_frames]
        self.tracks = [t for t in self.tracks if t not in ended]
        return ended

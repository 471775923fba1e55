"""Face tracks across frames, and when a track has seen enough to decide.

A track follows one face by box overlap (IoU) from frame to frame. Until it is decided, every
frame's recognition result is a vote: ``user:<id>``, ``unknown``, or no vote (ambiguous or poor
quality). ``agree_frames`` consecutive identical votes decide the track, once; after that its
faces are not embedded again. A track that has not been seen for ``max_gap_frames`` frames ends
the visit. Counting frames rather than seconds makes a replay decide the same way paced or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """One face followed across frames."""

    id: int
    box: Box
    first_frame: int
    last_frame: int
    votes: list[str] = field(default_factory=list)
    decided: str | None = None

    def streak(self) -> tuple[str | None, int]:
        """The latest vote and how many times in a row it was cast."""
        if not self.votes:
            return None, 0
        last = self.votes[-1]
        count = 0
        for vote in reversed(self.votes):
            if vote != last:
                break
            count += 1
        return last, count


class Tracker:
    """Assigns detections to tracks and reports decisions and ended visits."""

    def __init__(self, agree_frames: int, max_gap_frames: int, min_iou: float = 0.3) -> None:
        self.agree_frames = agree_frames
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

    def vote(self, track: Track, vote: str | None) -> str | None:
        """Add a vote; returns the decision the first time ``agree_frames`` agree, else None."""
        if track.decided is not None or vote is None:
            return None
        track.votes.append(vote)
        last, count = track.streak()
        if count >= self.agree_frames:
            track.decided = last
            return last
        return None

    def expire(self, frame: int) -> list[Track]:
        """Tracks not seen for more than ``max_gap_frames`` frames: their visits are over."""
        ended = [t for t in self.tracks if frame - t.last_frame > self.max_gap_frames]
        self.tracks = [t for t in self.tracks if t not in ended]
        return ended

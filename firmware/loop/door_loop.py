"""Frames in, door actions and records out.

For each frame: detect; follow faces with the :class:`Tracker`; for faces of undecided tracks,
run the second quality stage (head pose from the face mesh) and embed those that pass every
gate into the track's :class:`~firmware.loop.visit.Visit`; when the visit has
``[loop] agree_frames`` good frames, match them once (each user's score the weighted mean of the
frames' scores) and decide: one decision per visit, however long the person stays. A decision
is (1) the access policy's verdict, (2) a snapshot and, in one transaction, the ``face_events``
row, the ``attendance_logs`` row for a recognised person, the stranger's ``unknown_faces`` row
(new, or seen again), and the ``door_events`` row with the reason, then (3) the door pulse for
a grant, only after those rows are committed. A person decided within ``cooldown_s`` gets the
door again without a new visit record, but every opening still has its ``door_events`` row (and
MQTT event), committed before the pulse. Any error while deciding leaves the door locked (fail
closed) and is logged as a system event; the loop goes on.

On a full disk the records go first: a snapshot or a stranger's picture is written only while
the database keeps its reserve of free space, and a failed picture write drops the picture, not
the decision; when the database itself cannot commit, old snapshots are deleted to make room.
What was dropped is counted (:class:`~firmware.loop.unrecorded.Unrecorded`).
"""

from __future__ import annotations

import collections
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from firmware.config import Config
from firmware.domain import Decision, FaceKind, Frame
from firmware.errors import OccurError, StorageFullError
from firmware.hw.door import DoorDevice
from firmware.loop.liveness_stage import LivenessResult, LivenessStage
from firmware.loop.records import DecisionRows, write_decision, write_door_decision
from firmware.loop.strangers import StrangerMemory
from firmware.loop.tracker import Track, Tracker
from firmware.loop.unrecorded import Unrecorded, reserve_bytes
from firmware.loop.visit import Visit
from firmware.platform.clock import unix_iso
from firmware.policy.access import AccessPolicy, Person
from firmware.recognition.recogniser import Identified, Recogniser
from firmware.records.snapshots import SnapshotStore
from firmware.store import door_records, eventlog, users
from firmware.store.store import Store
from firmware.vision.embed import Vector
from firmware.vision.engine import Face, FaceEngine

log = logging.getLogger(__name__)
SHOW_RESULT_S = 2.0


@dataclass
class LoopStats:
    """Counters and per-stage times (ms) for ``occur status`` and ``occur bench loop``."""

    frames: int = 0
    decisions: int = 0
    granted: int = 0
    last_frame_at: float = 0.0
    stage_ms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, ms: float) -> None:
        """Record a stage time (keeps the last 1000)."""
        values = self.stage_ms.setdefault(stage, [])
        values.append(ms)
        if len(values) > 1000:
            del values[:500]


def confidence(score: float, threshold: float) -> float:
    """The fused score as a [0, 1] confidence for ``face_events``: 0.5 at the door threshold."""
    return 1.0 / (1.0 + math.exp(min(50.0, 10.0 * (score - threshold))))


class DoorLoop:
    """The decision engine of one door."""

    def __init__(self, config: Config, store: Store, engine: FaceEngine, door: DoorDevice) -> None:
        self.config = config
        self.store = store
        self.engine = engine
        self.door = door
        self.recogniser = Recogniser(store, engine)
        self.policy = AccessPolicy.from_config(config.door)
        self.zone = ZoneInfo(config.door.timezone) if config.door.timezone else None
        self.tracker = Tracker(config.loop.max_gap_frames)
        self.snapshots = SnapshotStore(config.paths, config.snapshots, store.sealer)
        self.strangers = StrangerMemory(engine, config.loop.unknown_match)
        self.strangers.load(store, time.time() - config.loop.unknown_memory_days * 86400)
        self.stats = LoopStats()
        self.frame_times: collections.deque[float] = collections.deque(maxlen=300)
        self._last_decided: dict[int, float] = {}
        self._visits: dict[int, Visit] = {}
        self._show_until = 0.0
        self._last_frame: Frame | None = None
        self._inference_before_swap = 0.0
        self.unrecorded = Unrecorded()
        self.reserve = reserve_bytes(config.paths.root, config.storage.ballast_kib * 1024)
        store.add_reclaimer(self._make_room)
        self.liveness = LivenessStage(config, engine)

    def use_engine(self, engine: FaceEngine) -> None:
        """Switch to other models (an installed update or a rollback) between two frames.
        Tracks in progress restart, so no decision mixes the two models' embeddings. The old
        engine is dropped here, the last reference the door holds, so its memory is freed."""
        self._inference_before_swap += self.engine.inference_s()
        self.engine = engine
        self.recogniser = Recogniser(self.store, engine)
        self.strangers = StrangerMemory(engine, self.config.loop.unknown_match)
        self.strangers.load(self.store, time.time() - self.config.loop.unknown_memory_days * 86400)
        self.tracker = Tracker(self.config.loop.max_gap_frames)
        self._visits.clear()
        self.liveness.use_engine(self.config, engine)

    def inference_s(self) -> float:
        """Seconds spent inside the models since start, across model swaps."""
        return self._inference_before_swap + self.engine.inference_s()

    def finish(self) -> list[Decision]:
        """The stream ended (a replay's last frame): every visit still waiting for liveness is
        judged on what it showed, as when its track ends, so no recognised visit goes unrecorded."""
        if self._last_frame is None:
            return []
        return self._settle(self._last_frame, {t.id for t in self.tracker.tracks} | set(self.liveness.held))

    def process(self, frame: Frame) -> list[Decision]:
        """Handle one frame; returns the decisions it produced."""
        t0 = time.perf_counter()
        self._last_frame = frame
        faces = self.engine.faces(frame.image, embed=False, pose=False)
        self.stats.add("detect", (time.perf_counter() - t0) * 1000)
        tracks = self.tracker.assign(frame.index, [f.detection.box for f in faces])
        decisions = []
        for face, track in zip(faces, tracks, strict=True):
            if track.decided is None or track.id in self.liveness.held:
                t1 = time.perf_counter()
                self.liveness.observe(frame.image, frame.captured_at, face, track.id)
                if "landmarks" in face.timings:
                    self.stats.add("landmarks", face.timings["landmarks"])
                    self.stats.add("liveness", (time.perf_counter() - t1) * 1000)
            if track.decided is not None or not face.quality.cheap_ok:
                continue
            t1 = time.perf_counter()
            if not self.engine.check(frame.image, face).ok:
                self.stats.add("pose", (time.perf_counter() - t1) * 1000)
                continue
            t2 = time.perf_counter()
            self.engine.embed(frame.image, face)
            t3 = time.perf_counter()
            self.stats.add("pose", (t2 - t1) * 1000)
            self.stats.add("embed", (t3 - t2) * 1000)
            visit = self._visits.setdefault(track.id, Visit(track.id, self.config.loop.agree_frames))
            if visit.add(frame.index, face):
                found = self.recogniser.match_visit(face, visit.embeddings(), visit.weights())
                self.stats.add("match", (time.perf_counter() - t3) * 1000)
                visit.decided = True
                track.decided = found.match.decision
                self._hold(frame, face, track, found)
        decisions += self._settle(frame, {t.id for t in self.tracker.expire(frame.index)})
        self.stats.frames += 1
        self.frame_times.append(time.monotonic())
        self.stats.last_frame_at = frame.captured_at
        self.stats.add("frame", (time.perf_counter() - t0) * 1000)
        self._show(frame, bool(faces))
        return decisions

    def _settle(self, frame: Frame, ended: set[int]) -> list[Decision]:
        """Decide the held visits the liveness stage releases; forget the ended tracks."""
        decisions = [self._decide(*held, result) for held, result in self.liveness.release(frame, ended)]
        for track_id in ended:
            self._visits.pop(track_id, None)
        return decisions

    def _hold(self, frame: Frame, face: Face, track: Track, found: Identified) -> None:
        """Hand a recognised visit to the liveness stage: a person the access policy would
        admit waits there for the evidence their role's policy needs; others are released at once."""
        user = found.match.user_id if found.match.decision == "match" else None
        person = self._person(user) if user is not None else None
        when = datetime.fromtimestamp(frame.captured_at, self.zone)
        admitted = self.policy.decide(found.match.decision, person, when)[0]
        self.liveness.hold((frame, face, track, found), person.role if person else None, admitted)

    def _show(self, frame: Frame, busy: bool) -> None:
        challenge = self.liveness.led()
        if challenge is not None:
            self.door.show(challenge)
            return
        if frame.captured_at < self._show_until:
            return
        undecided = any(t.decided is None for t in self.tracker.tracks)
        self.door.show("processing" if busy and undecided else "idle")

    def _decide(self, frame: Frame, face: Face, track: Track, found: Identified, live: LivenessResult) -> Decision:
        t0 = time.perf_counter()
        match = found.match
        user_id = match.user_id if match.decision == "match" else None
        try:
            decision = self._act(frame, face, track, found, user_id, live)
        except (OccurError, OSError, ValueError) as err:
            self.door.lock()
            self.door.show("fault")
            if isinstance(err, StorageFullError):
                self.unrecorded.note("decisions")
            log.error("decision for track %d failed, door stays locked: %s", track.id, err)
            try:
                self.store.log_system_event("decision_failed", f"track {track.id}: {err}")
            except (OccurError, OSError) as again:
                log.error("could not record the failure either: %s", again)
            decision = Decision(
                frame.index,
                track.id,
                "recognized" if user_id else "unknown",
                user_id,
                found.name,
                False,
                f"fault: {err}",
                match.score,
                None,
                recorded=False,
            )
        self._show_until = frame.captured_at + SHOW_RESULT_S
        self.stats.decisions += 1
        self.stats.granted += int(decision.granted)
        self.stats.add("decide", (time.perf_counter() - t0) * 1000)
        return decision

    def _act(
        self, frame: Frame, face: Face, track: Track, found: Identified, user_id: int | None, live: LivenessResult
    ) -> Decision:
        match = found.match
        person = self._person(user_id) if user_id is not None else None
        local = (
            datetime.fromtimestamp(frame.captured_at, self.zone)
            if self.zone
            else datetime.fromtimestamp(frame.captured_at)
        )
        granted, reason = self.policy.decide(match.decision, person, local)
        if granted and not live.allowed:
            granted, reason = False, live.reason  # a proven attack, or evidence the policy needs is missing
        kind: FaceKind = "recognized" if user_id is not None else "unknown"
        last = self._last_decided.get(user_id) if user_id is not None else None
        if user_id is not None:
            self._last_decided[user_id] = frame.captured_at
        if last is not None and frame.captured_at - last < self.config.loop.cooldown_s:
            again = f"{reason}; within cooldown_s of the last decision, the visit is recorded once"
            self._record_opening(frame, user_id, found, granted, again)  # every pulse has its door record
            self._open_or_deny(granted)
            return Decision(
                frame.index, track.id, kind, user_id, found.name, granted, reason, match.score, None,
                recorded=False, liveness=live.state,
            )  # fmt: skip
        snapshot = self._snapshot(frame, face, user_id)
        unknown_id = None
        rows = DecisionRows(
            unix_iso(frame.captured_at),
            kind,
            user_id,
            match.score,
            None if match.score is None else confidence(match.score, self._threshold()),
            snapshot,
            granted,
            reason,
        )
        rows.event = eventlog.event(
            eventlog.decision_type(granted, user_id is not None),
            rows.timestamp,
            self.config.device.id,
            user=None if user_id is None else (user_id, found.name),
            distance=match.score,
            confidence=rows.confidence,
            snapshot=snapshot,
            reason=reason,
        )
        rows.outbox_max_rows = self.config.mqtt.outbox_max_rows
        rows.liveness = live.record
        if user_id is None:
            # a stranger is described by the visit's combined embedding: steadier than one frame
            portrait = self._portrait(track, face)
            unknown_id = self.strangers.find(portrait)
            rows.unknown_id = unknown_id
            if unknown_id is None:
                rows.unknown_snapshot = self._best_effort("pictures", lambda: self._unknown_snapshot(frame, face))
                rows.sealer = self.store.sealer
                embedders = self.engine.embedders
                rows.unknown_vectors = {e.name: (e.manifest.encoding_key, portrait[e.name]) for e in embedders}
        ids = self.store.write(lambda conn: write_decision(conn, rows))
        self._open_or_deny(granted)  # only once the decision is on disk: no entry without a record
        if user_id is None and unknown_id is None:
            unknown_id = ids.unknown_id
            assert unknown_id is not None
            self.strangers.add(unknown_id, portrait)
        return Decision(
            frame.index, track.id, kind, user_id, found.name, granted, reason, match.score, snapshot, unknown_id,
            liveness=live.state,
        )  # fmt: skip

    def _record_opening(self, frame: Frame, user_id: int | None, found: Identified, granted: bool, reason: str) -> None:
        stamp = unix_iso(frame.captured_at)
        event = eventlog.event(
            eventlog.decision_type(granted, user_id is not None),
            stamp,
            self.config.device.id,
            user=None if user_id is None else (user_id, found.name),
            distance=found.match.score,
            reason=reason,
        )
        max_rows = self.config.mqtt.outbox_max_rows
        score = found.match.score
        self.store.write(lambda c: write_door_decision(c, stamp, granted, reason, user_id, score, event, max_rows))

    def _snapshot(self, frame: Frame, face: Face, user_id: int | None) -> str | None:
        def capture() -> str:
            return str(self.snapshots.capture(frame.image, face.detection.box, user_id, _utc(frame.captured_at)))

        return self._best_effort("snapshots", capture)

    def _best_effort(self, kind: str, write: Callable[[], str]) -> str | None:
        """A picture, written only while the database keeps its reserve; dropped (and counted)
        when there is no room or the write fails."""
        try:
            if shutil.disk_usage(self.config.paths.root).free < self.reserve:
                self.unrecorded.note(kind)
                log.warning("disk nearly full: %s not kept (the decision is recorded)", kind)
                return None
            return write()
        except OSError as err:
            self.unrecorded.note(kind)
            log.warning("%s not kept (the decision is recorded): %s", kind, err)
            return None

    def _make_room(self) -> int:
        """The store's reclaimer: delete old snapshots so a record can be written."""
        deleted = self.snapshots.reclaim(self.reserve)
        self.unrecorded.note("reclaimed", deleted)
        return deleted

    def _threshold(self) -> float:
        """The door threshold in force (the one-to-one threshold while nobody can be named)."""
        point = self.recogniser.point()
        return self.engine.fusion.threshold if point.threshold is None else point.threshold

    def _portrait(self, track: Track, face: Face) -> dict[str, Vector]:
        visit = self._visits.get(track.id)
        return visit.combined(self.engine.fusion.metrics) if visit is not None and visit.frames else face.embeddings

    def _open_or_deny(self, granted: bool) -> None:
        if granted:
            self.door.grant()
        self.door.show("granted" if granted else "denied")

    def _person(self, user_id: int) -> Person | None:
        with self.store.reader() as conn:
            try:
                user = users.find_user(conn, user_id)
            except OccurError:
                return None
            return Person(user.id, user.role, door_records.user_active(conn, user.id))

    def _unknown_snapshot(self, frame: Frame, face: Face) -> str:
        from firmware.imaging.image import encode_jpeg
        from firmware.platform.fileio import write_private
        from firmware.records.snapshots import face_crop

        stamp = _utc(frame.captured_at).strftime("%Y%m%d_%H%M%S")
        folder = self.config.paths.unknown_faces
        path = folder / f"unknown_{stamp}.jpg"
        n = 2
        while path.exists():
            path = folder / f"unknown_{stamp}_{n}.jpg"
            n += 1
        jpeg = encode_jpeg(face_crop(frame.image, face.detection.box), self.config.snapshots.jpeg_quality)
        write_private(path, self.store.sealer.seal_picture("unknown", jpeg))
        return str(Path(path).relative_to(self.config.paths.root))


def _utc(seconds: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(seconds, UTC)

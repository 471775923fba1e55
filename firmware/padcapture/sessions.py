"""Capture sessions for ``occur pad record``: frames from the door's camera, sealed on disk.

A session is what one presentation looked like to the camera: a bona fide visit by a
consenting person, or an attack (a print, a phone, a tablet, a replayed video, a mask) with a
consenting person's picture. Frames are JPEGs sealed with the device's picture key (as
snapshots are, so key rotation re-seals them) in ``pad/<folder>/``; their capture times go in
a sealed ``times.json``; the ``pad_sessions`` row says what they show and who consented. When
asked, the LEDs show a liveness challenge at a random moment, recorded with the session, so
``occur pad report`` can judge the ``challenge`` policy too.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from firmware.config import Config
from firmware.domain import Frame, Image
from firmware.errors import InvalidInputError, OccurError
from firmware.hw.camera import Camera
from firmware.hw.door import DoorDevice
from firmware.imaging.image import decode_image, encode_jpeg
from firmware.platform.clock import now_iso
from firmware.platform.fileio import write_private
from firmware.security.audit import audit
from firmware.store.pad_sessions import Session, delete_session, insert_session, list_sessions
from firmware.store.store import Store

SPECIES = ("bona_fide", "print", "phone", "tablet", "video_replay", "mask", "other")
KIND = "pad"  # the sealing context of session frames
FOLDER = "pad"


def record(
    config: Config,
    store: Store,
    camera: Camera,
    species: str,
    subject: str,
    consent_by: str,
    seconds: float,
    instrument: str = "",
    notes: str = "",
    door: DoorDevice | None = None,
) -> Session:
    """Capture ``seconds`` of frames (the whole replay for a replay source) and keep them.

    With ``door``, a challenge (head turn or blink, chosen at random) is shown on its LEDs at
    a random moment 1-2 s in and recorded.

    Raises:
        InvalidInputError: unknown species, empty subject, or no frame captured.
        CameraError: the camera failed.
    """
    if species not in SPECIES:
        raise InvalidInputError(f"species {species!r} is not one of {', '.join(SPECIES)}")
    if not subject.strip() or len(subject) > 64:
        raise InvalidInputError("--subject must be a short pseudonymous label (1-64 characters), never a name")
    rng = random.SystemRandom()
    stamp = now_iso().replace(":", "").replace("-", "")[:15]
    folder = config.paths.root / FOLDER / f"{stamp}_{species}"
    n = 2
    while folder.exists():
        folder = config.paths.root / FOLDER / f"{stamp}_{species}_{n}"
        n += 1
    folder.mkdir(parents=True, mode=0o700)
    challenge: dict[str, Any] | None = None
    shown_after = rng.uniform(1.0, 2.0) if door is not None else None
    times: list[float] = []
    camera.open()
    try:
        while True:
            frame = camera.read()
            if frame is None:
                break
            times.append(frame.captured_at)
            _keep(store, folder, len(times) - 1, frame)
            elapsed = frame.captured_at - times[0]
            if door is not None and challenge is None and shown_after is not None and elapsed >= shown_after:
                kind = rng.choice(("turn", "blink"))
                door.show(f"challenge_{kind}")
                challenge = {"kind": kind, "shown_at": round(elapsed, 3)}
            if elapsed >= seconds:
                break
    except OccurError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        camera.close()
        if door is not None:
            door.show("idle")
    if not times:
        shutil.rmtree(folder, ignore_errors=True)
        raise InvalidInputError("the camera gave no frame: nothing was recorded")
    offsets = [round(t - times[0], 4) for t in times]
    write_private(folder / "times.json", store.sealer.seal_picture(KIND, json.dumps(offsets).encode()))
    fps = (len(times) - 1) / offsets[-1] if len(times) > 1 and offsets[-1] > 0 else config.camera.fps or 15.0
    relative = str(folder.relative_to(config.paths.root))
    made = Session(0, now_iso(), species, subject, instrument, len(times), fps, challenge, relative)
    version = config.privacy.consent_text_version
    session_id = store.write(lambda conn: insert_session(conn, made, consent_by, version, notes))
    audit(store, config.paths, "pad_record", {"session": session_id, "species": species, "subject": subject,
          "consent_by": consent_by, "frames": len(times)}, device_id=config.device.id)  # fmt: skip
    return replace(made, id=session_id)


def _keep(store: Store, folder: Path, index: int, frame: Frame) -> None:
    write_private(folder / f"frame_{index:05d}.jpg", store.sealer.seal_picture(KIND, encode_jpeg(frame.image, 95)))


def sessions(store: Store) -> list[Session]:
    """Every recorded session, oldest first."""
    with store.reader() as conn:
        return list_sessions(conn)


def frames(config: Config, store: Store, session: Session) -> list[tuple[float, Image]]:
    """A session's frames with their times (s from its first), unsealed.

    Raises:
        IntegrityError: a sealed file was altered. OSError: a file is missing.
    """
    folder = config.paths.root / session.folder
    offsets = json.loads(store.sealer.open_picture(KIND, (folder / "times.json").read_bytes()))
    return [
        (float(t), decode_image(store.sealer.open_picture(KIND, (folder / f"frame_{i:05d}.jpg").read_bytes())))
        for i, t in enumerate(offsets)
    ]


def delete(config: Config, store: Store, session_id: int) -> None:
    """Erase a session: its frames and its row (logged).

    Raises:
        NotFoundError: no such session.
    """
    from firmware.errors import NotFoundError

    found = [s for s in sessions(store) if s.id == session_id]
    if not found:
        raise NotFoundError(f"no capture session {session_id}")
    shutil.rmtree(config.paths.root / found[0].folder, ignore_errors=True)
    store.write(lambda conn: delete_session(conn, session_id))
    audit(store, config.paths, "pad_delete", {"session": session_id}, device_id=config.device.id)

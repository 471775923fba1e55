"""Strangers the door saw: promote one to a person from its kept picture, or dismiss it."""

from __future__ import annotations

import contextlib
import json
import logging

from firmware.actions.people import enrol_person
from firmware.config import Config
from firmware.domain import Image
from firmware.errors import NotFoundError
from firmware.imaging.image import decode_image
from firmware.platform.clock import now_iso
from firmware.platform.fileio import UnsafePathError, contained
from firmware.recognition.enrol import EnrolReport
from firmware.security.audit import audit
from firmware.store import eventlog
from firmware.store.db import Connection
from firmware.store.door_records import Unknown, delete_unknown, find_unknown, forget_unknown
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine

log = logging.getLogger(__name__)


def find_stranger(store: Store, unknown_id: int) -> Unknown:
    """One ``unknown_faces`` row.

    Raises:
        NotFoundError: no such stranger (promoted, dismissed or expired meanwhile).
    """
    with store.reader() as conn:
        found = find_unknown(conn, unknown_id)
    if found is None:
        raise NotFoundError(f"no stranger {unknown_id}")
    return found


def kept_picture(store: Store, config: Config, stranger: Unknown) -> bytes:
    """The stranger's kept picture, decrypted in memory.

    Raises:
        NotFoundError: no picture kept, or it lies outside ``unknown_faces/``.
        IntegrityError: the file was altered.
    """
    if not stranger.snapshot_path:
        raise NotFoundError(f"stranger {stranger.id} has no kept picture")
    try:
        path = contained(config.paths.root, "unknown_faces", stranger.snapshot_path)  # checked again where used
    except UnsafePathError as err:
        raise NotFoundError(f"stranger {stranger.id}: its picture path is refused: {err}") from err
    if not path.is_file():
        raise NotFoundError(f"stranger {stranger.id} has no kept picture")
    return store.sealer.open_picture("unknown", path.read_bytes())


def promote(
    store: Store,
    config: Config,
    engine: FaceEngine,
    unknown_id: int,
    name: str,
    actor: str,
    role: str | None = None,
    email: str | None = None,
    consent_by: str | None = None,
) -> EnrolReport:
    """Enrol the stranger's kept picture as a new person, then forget the stranger.

    Raises:
        NotFoundError: no such stranger or picture. InvalidInputError: consent, fields, or the
            picture holds no usable face (nothing is stored then).
    """
    stranger = find_stranger(store, unknown_id)
    image: Image = decode_image(kept_picture(store, config, stranger), stranger.snapshot_path or "")
    kept = stranger.snapshot_path or ""
    report = enrol_person(store, config, engine, name, [(kept, image)], actor, email, role, consent_by)
    details = json.dumps({"unknown_id": unknown_id, "user_id": report.user_id, "picture": kept, "by": actor})

    def job(conn: Connection) -> None:
        forget_unknown(conn, unknown_id)
        eventlog.system(conn, store.origin, now_iso(), "unknown_promoted", details)

    store.write(job)
    _remove_picture(config, kept)
    return report


def dismiss(store: Store, config: Config, unknown_id: int, actor: str) -> None:
    """Forget a stranger: its row, its embeddings and its kept picture.

    Raises:
        NotFoundError: no such stranger.
    """
    stranger = find_stranger(store, unknown_id)

    def job(conn: Connection) -> None:
        if not delete_unknown(conn, unknown_id):
            raise NotFoundError(f"no stranger {unknown_id}")
        details = json.dumps({"unknown_id": unknown_id, "by": actor})
        eventlog.system(conn, store.origin, now_iso(), "unknown_dismissed", details)

    store.write(job)
    _remove_picture(config, stranger.snapshot_path)
    audit(store, config.paths, "stranger_dismissed", {"unknown_id": unknown_id, "by": actor}, None, config.device.id)


def _remove_picture(config: Config, relative: str | None) -> None:
    if not relative:
        return
    try:
        path = contained(config.paths.root, "unknown_faces", relative)
    except UnsafePathError as err:
        log.warning("stranger picture %r not removed: %s", relative, err)
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

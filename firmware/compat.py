"""The original OCCUR-CALL storage API, with its documented names and signatures.

Code written against the original ``Utils/db_utils.py`` and ``Update_and_Backup/update_db.py``
keeps working: ``from firmware.compat import log_face_event``. Differences that matter:

- Calls validate first and raise :class:`ValueError` (``InvalidInputError``) on bad input,
  writing nothing; the original printed and carried on.
- A call returns only after its row is committed to disk (WAL, ``synchronous=FULL``). Calls
  from several threads at once are committed together (group commit), so concurrency makes
  them cheaper, not slower.
- The data folder is ``$OCCUR_DATA_DIR`` read at each call (else ``./data``); one database file,
  ``occur.db``, holds what the original split over ``face_events.db`` and its main database.

Face verification storage (``storage/face_verification_storage.py``): ``store_face_encoding``,
``retrieve_face_encoding`` and ``verify_face`` work on dlib ResNet encodings, as the original's
``face_recognition`` produced; the door itself fuses two models (see ``firmware.recognition``)
and uses these encodings for people it has no photo of (``firmware.recognition.original_templates``).

Arguments are taken in the forms the original's callers pass them: a user as its id (an int or
digits) or its name (case-insensitively); ``image_path`` as text or a ``pathlib.Path``;
``capture_snapshot``'s box as (x, y, w, h), as documented. Where the original was unsafe the safe
behaviour stays: a snapshot is the face with a margin, sealed (not the whole frame in the clear),
its folder is a plain user id (no ``..``), encodings are sealed under the user's key, and a
``user_id`` that is neither an id nor a user's name is an error, not a new row.

The process keeps one open :class:`~firmware.store.store.Store` per data folder and closes it
at exit; a forked child opens its own.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import numpy as np
import numpy.typing as npt

from firmware import config as config_module
from firmware.errors import InvalidInputError
from firmware.records.snapshots import SnapshotStore
from firmware.store import encodings, users
from firmware.store.db import Connection
from firmware.store.eventlog import Origin
from firmware.store.store import Store

_lock = threading.Lock()
_stores: dict[tuple[int, Path], Store] = {}
_by_env: dict[tuple[int, str | None, str | None], Store] = {}
_atexit_registered = False


def _store() -> Store:
    """The store for the current ``$OCCUR_CONFIG`` / ``$OCCUR_DATA_DIR``, opened on first use.

    The environment is read at every call (so it can change between calls, as the original's
    module-level paths could not), but the config file is parsed only when those values change.
    """
    global _atexit_registered
    env_key = (os.getpid(), os.environ.get(config_module.CONFIG_ENV), os.environ.get(config_module.DATA_DIR_ENV))
    store = _by_env.get(env_key)  # lock-free fast path: concurrent callers must not queue here
    if store is not None:
        return store
    with _lock:
        store = _by_env.get(env_key)
        if store is not None:
            return store
        config = config_module.load()
        key = (os.getpid(), config.paths.root.resolve())
        store = _stores.get(key)
        if store is None:
            store = Store.open(config.paths, config.storage, origin=Origin.of(config))
            _stores[key] = store
            if not _atexit_registered:
                atexit.register(close_all)
                _atexit_registered = True
        _by_env[env_key] = store
        return store


def close_all() -> None:
    """Close every store this process opened (registered with :mod:`atexit` on first use)."""
    with _lock:
        for key, store in list(_stores.items()):
            if key[0] == os.getpid():
                store.close()
            del _stores[key]
        _by_env.clear()


def log_face_event(
    event_type: str,
    user_id: str | int | None = None,
    image_path: str | os.PathLike[str] | None = None,
    confidence: float | None = None,
) -> None:
    """Log a face detection or recognition event; returns once it is on disk.

    Args:
        event_type: ``recognized``, ``unknown`` or ``auto_register``.
        user_id: who was recognised: text, as the column is, or an int id (stored as its digits).
        image_path: the saved image, if any (text or a ``Path``; kept as a record, never opened).
        confidence: recognition confidence in [0, 1].

    Raises:
        ValueError: a bad argument; nothing is written.
        firmware.errors.StoreError: the event could not be recorded (disk full, locked...).
    """
    who: object = str(user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else user_id
    image: object = os.fspath(image_path) if isinstance(image_path, os.PathLike) else image_path
    _store().log_face_event(event_type, who, image, confidence)  # type: ignore[arg-type] # validated there


def log_system_event(event_type: str, details: str | None = None) -> None:
    """Log a system event (``system_start``, ``error``...); returns once it is on disk.

    Raises:
        ValueError: empty or non-text ``event_type``, non-text ``details``; nothing is written.
        firmware.errors.StoreError: the event could not be recorded.
    """
    _store().log_system_event(event_type, details)


def initialize_db() -> None:
    """Create the database with all documented tables, or bring an existing one up to date.

    An old ``unknown`` table is migrated into ``unknown_faces`` and dropped, as the original
    did; an existing database is backed up first.

    Raises:
        firmware.errors.StoreError: the database is damaged, newer than the code, or not ours.
    """
    _store()


COMPAT_MODEL = "dlib"
"""The model whose encodings the documented verification functions handle: dlib's ResNet
descriptor, the 128-D format of the ``face_recognition`` library the original system used."""


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of :func:`verify_face`: the nearest enrolled user and whether it is a match."""

    verified: bool
    user_id: int | None
    name: str | None
    distance: float | None


def _user_ref(user_id: object) -> int | str:
    """A user reference as the original's callers gave it: an id (int or digits) or a name."""
    if isinstance(user_id, bool) or not isinstance(user_id, (int, str)):
        raise InvalidInputError(f"user_id must be a user's id or name, got {user_id!r}")
    return user_id


def store_face_encoding(user_id: int | str, encoding: npt.ArrayLike) -> None:
    """Store a face encoding for a user; returns once it is on disk.

    Args:
        user_id: the user's id in ``users``, or their name (case-insensitively).
        encoding: a 128-D dlib ResNet descriptor (e.g. from ``face_recognition``); kept sealed
            with the user's other dlib encodings and used by :func:`verify_face`, and by the door
            for a user it has no photo of (see ``firmware.recognition.original_templates``).

    Raises:
        ValueError: not a finite 128-D vector, or not a user reference; nothing is written.
        firmware.errors.NotFoundError: no such user.
        firmware.errors.AmbiguousError: a name several users share (from before names were unique).
    """
    ref = _user_ref(user_id)
    vector = np.asarray(encoding, dtype=np.float64) if not isinstance(encoding, np.ndarray) else encoding
    if vector.shape != (128,):
        raise InvalidInputError(f"encoding must have 128 numbers (dlib format), got shape {vector.shape}")
    store = _store()

    def job(conn: Connection) -> int:
        uid = users.find_user(conn, ref).id
        return encodings.add_encoding(conn, uid, COMPAT_MODEL, encodings.ORIGINAL_DLIB, vector, sealer=store.sealer)

    store.write(job)


def retrieve_face_encoding(user_id: int | str) -> npt.NDArray[np.float32] | None:
    """The user's most recent dlib face encoding, or None if the user has none.

    Raises:
        firmware.errors.NotFoundError: no such user (by id or name).
    """
    ref = _user_ref(user_id)
    with _store().reader() as conn:
        uid = users.find_user(conn, ref).id
        found = encodings.encodings_of(conn, uid, COMPAT_MODEL, sealer=_store().sealer)
    return found[-1] if found else None


def verify_face(encoding: npt.ArrayLike, threshold: float = 0.6) -> VerificationResult:
    """Compare an encoding with every stored dlib encoding (Euclidean distance, as dlib does).

    Returns the nearest user; ``verified`` is true when the distance is below ``threshold``
    (0.6 is dlib's own decision threshold).

    Raises:
        ValueError: not a finite 128-D vector, or a threshold that is not positive.
    """
    probe = np.asarray(encoding, dtype=np.float32)
    if probe.shape != (128,) or not np.all(np.isfinite(probe)):
        raise InvalidInputError(f"encoding must be 128 finite numbers (dlib format), got shape {probe.shape}")
    if not threshold > 0:
        raise InvalidInputError(f"threshold must be positive, got {threshold!r}")
    with _store().reader() as conn:
        ids, matrix = encodings.gallery_rows(conn, COMPAT_MODEL, sealer=_store().sealer)
        if not ids.size:
            return VerificationResult(False, None, None, None)
        d = np.linalg.norm(matrix - probe, axis=1)
        best = int(np.argmin(d))
        user = users.find_user(conn, int(ids[best]))
    distance = float(d[best])
    return VerificationResult(distance < threshold, user.id, user.name, distance)


def _snapshots() -> SnapshotStore:
    config = config_module.load()
    return SnapshotStore(config.paths, config.snapshots, _store().sealer)


def capture_snapshot(frame: npt.ArrayLike, bbox: tuple[float, float, float, float], user_id: object = None) -> str:
    """Save the face at ``bbox`` of a BGR ``frame`` as a snapshot (sealed, as every picture is).

    Args:
        bbox: the face as (x, y, w, h) pixels, as the original documented: top-left corner,
            width and height (what OpenCV's detectors return).
        user_id: the user's id (int or text) or None for a stranger: the folder name.

    Returns:
        The path relative to the data folder:
        ``snapshots/YYYY/MM/DD/<user_id or unknown>/snapshot_NNN.jpg``.

    Raises:
        ValueError: a frame that is not an 8-bit colour image, a box that is not four finite
            numbers with positive width and height or that lies outside the frame, or a
            ``user_id`` that could leave the folder (``..``, separators).
    """
    image = np.asarray(frame)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInputError(f"frame must be an HxWx3 uint8 image, got {image.shape} {image.dtype}")
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"bbox must be (x, y, w, h), got {bbox!r}") from err
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise InvalidInputError(f"bbox (x, y, w, h) needs finite numbers and a positive size, got {bbox!r}")
    return str(_snapshots().capture(image, (x, y, x + w, y + h), user_id))


def organize_snapshots() -> int:
    """Move snapshot files found outside the dated layout into it; returns how many moved."""
    return _snapshots().organize()


def cleanup_old_snapshots(days_old: float = 30) -> int:
    """Delete snapshots older than ``days_old`` days; returns how many files were deleted.

    Raises:
        ValueError: a negative age.
    """
    if not days_old >= 0:
        raise InvalidInputError(f"days_old must be >= 0, got {days_old!r}")
    return _snapshots().cleanup(days_old)


def log_secure_event(event_type: str, data: object, user_id: object = None) -> int:
    """Add an entry to the secure log (encrypted, hash-chained, signed checkpoints).

    Returns:
        The entry's sequence number.

    Raises:
        ValueError: empty ``event_type`` or data that is not JSON-serialisable.
    """
    from firmware.security.audit import audit

    store = _store()
    return audit(store, store.paths, event_type, data, user_id)


def retrieve_secure_logs(user_id: object, date_range: tuple[str, str] | None = None) -> list[dict[str, object]]:
    """Decrypted secure-log entries of ``user_id``, oldest first, optionally within
    ``date_range`` = (from, to) ISO 8601 (to exclusive). The access itself is logged.

    Raises:
        firmware.crypto.keys.IntegrityError: an entry was altered.
        ValueError: a malformed date.
    """
    from firmware.platform.clock import parse_iso, to_iso
    from firmware.security.audit import audit, secure_log

    since = until = None
    if date_range is not None:
        try:
            since, until = (to_iso(parse_iso(d, assume=UTC)) for d in date_range)
        except ValueError as err:
            raise InvalidInputError(f"date_range: {err}") from err
    store = _store()
    log = secure_log(store.paths)
    with store.reader() as conn:
        entries = log.entries(conn, str(user_id), since, until)
    audit(store, store.paths, "secure_log_read", {"user_id": str(user_id), "entries": len(entries)}, user_id)
    return [
        {"seq": e.seq, "timestamp": e.timestamp, "event_type": e.event_type, "user_id": e.user_id, "data": e.data}
        for e in entries
    ]


def backup_database() -> str:
    """Back up the database now (consistent while writes go on); returns the local copy's path,
    ``<data>/backups/occur_YYYYMMDD_HHMMSS.db``. With ``[backup] operator_public_key_file`` set,
    a sealed archive for the operator is written beside it."""
    from firmware.backup import archive as backup

    store = _store()
    return str(backup.create(store, config_module.load())[0])


def backup_face_data() -> str:
    """Back up the enrolment data with the database, sealed to the operator's key; returns the
    archive's path.

    Raises:
        ValueError: no operator public key is configured (the device never writes face data
            anywhere it could read back in the clear).
    """
    from firmware.backup import archive as backup

    config = config_module.load()
    if not config.backup.operator_public_key_file:
        raise InvalidInputError("set [backup] operator_public_key_file: face data is only backed up sealed")
    return str(backup.create(_store(), config)[-1])

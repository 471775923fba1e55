"""Face verification storage: enrolment samples and per-model encodings (table access only).

Vectors are stored as little-endian float32 BLOBs with their dimension and the sha256 of the
exact model file that produced them; reading filters by model name, so encodings of different
models are never mixed. The numpy conversion lives here because the BLOB layout is a storage
detail. Writers run inside writer jobs (``Store.write``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.errors import InvalidInputError, NotFoundError
from firmware.platform.clock import now_iso
from firmware.store.db import Connection, fetch_all
from firmware.store.sealing import Sealer

Vector = npt.NDArray[np.float32]
ORIGINAL_DLIB = "original:face_recognition"
"""``model_sha256`` of dlib encodings that came from the original system (a legacy import, or
``firmware.compat.store_face_encoding``): descriptors of ``face_recognition``'s
``dlib_face_recognition_resnet_model_v1``, the network the dlib model files are converted from.
They cannot be made again from a chip, so model updates never prune them."""
ORIGINAL_FILES = (ORIGINAL_DLIB, "external")  # "external": what compat wrote before the name above


@dataclass(frozen=True)
class Sample:
    """One enrolment sample (row of ``face_samples``)."""

    id: int
    user_id: int
    chip_path: str | None
    keypoints: list[list[float]]
    source: str | None
    detection_score: float | None
    sharpness: float | None
    created_at: str


def to_blob(vector: npt.ArrayLike) -> tuple[int, bytes]:
    """Validate and serialise a vector.

    Raises:
        InvalidInputError: not a finite 1-D vector of 1-4096 numbers.
    """
    try:
        array = np.asarray(vector, dtype="<f4")
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"encoding is not a vector of numbers: {err}") from err
    if array.ndim != 1 or not 1 <= array.size <= 4096:
        raise InvalidInputError(f"encoding must be a 1-D vector of 1-4096 numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError("encoding contains NaN or infinity")
    return int(array.size), array.tobytes()


def _require_user(conn: Connection, user_id: int) -> None:
    if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
        raise NotFoundError(f"no user with id {user_id}")


def add_sample(
    conn: Connection,
    user_id: int,
    chip_path: str | None,
    keypoints: list[list[float]],
    source: str | None,
    detection_score: float | None,
    sharpness: float | None,
) -> int:
    """Insert a sample; returns its id.

    Raises:
        NotFoundError: no such user.
    """
    _require_user(conn, user_id)
    conn.execute(
        "INSERT INTO face_samples (user_id, chip_path, keypoints, source, detection_score, sharpness, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, chip_path, json.dumps(keypoints), source, detection_score, sharpness, now_iso()),
    )
    return int(conn.last_insert_rowid())


def add_encoding(
    conn: Connection,
    user_id: int,
    model: str,
    model_sha256: str,
    vector: npt.ArrayLike,
    sample_id: int | None = None,
    *,
    sealer: Sealer,
) -> int:
    """Insert one encoding, sealed under the user's key; returns its id.

    Raises:
        NotFoundError: no such user.
        InvalidInputError: bad vector, or the dimension differs from this model's stored ones.
    """
    _require_user(conn, user_id)
    dim, plain = to_blob(vector)
    blob = sealer.seal_template(conn, user_id, model, plain)
    row = conn.execute(
        "SELECT dim FROM face_encodings WHERE model = ? AND model_sha256 = ? LIMIT 1", (model, model_sha256)
    ).fetchone()
    if row is not None and int(row[0]) != dim:
        raise InvalidInputError(f"model {model} encodings are {row[0]}-D, got {dim}-D")
    conn.execute(
        "INSERT INTO face_encodings (user_id, sample_id, model, model_sha256, dim, vector, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, sample_id, model, model_sha256, dim, blob, now_iso()),
    )
    return int(conn.last_insert_rowid())


def encodings_of(conn: Connection, user_id: int, model: str, *, sealer: Sealer) -> list[Vector]:
    """A user's encodings for ``model``, oldest first (those that no longer open are left out)."""
    rows = fetch_all(
        conn, "SELECT vector, dim FROM face_encodings WHERE user_id = ? AND model = ? ORDER BY id", (user_id, model)
    )
    opened = [sealer.open_template(conn, user_id, model, bytes(r[0]), int(r[1])) for r in rows]
    return [v for v in opened if v is not None]


def gallery_rows(
    conn: Connection, model: str, model_sha256: str | None = None, *, sealer: Sealer, original: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """All encodings of ``model`` as (user ids, matrix), ordered by user id; with
    ``model_sha256``, only those made by exactly that model file; with ``original``, only the
    original system's (:data:`ORIGINAL_FILES`)."""
    rows = fetch_all(
        conn,
        "SELECT user_id, vector, dim FROM face_encodings WHERE model = ? AND (? IS NULL OR model_sha256 = ?)"
        " AND (? = 0 OR model_sha256 IN (?, ?)) ORDER BY user_id, id",
        (model, model_sha256, model_sha256, int(original), *ORIGINAL_FILES),
    )
    opened = [(int(r[0]), sealer.open_template(conn, int(r[0]), model, bytes(r[1]), int(r[2]))) for r in rows]
    kept = [(uid, v) for uid, v in opened if v is not None]
    if not kept:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.array([uid for uid, _ in kept], dtype=np.int64), np.stack([v for _, v in kept]).astype(np.float32)


def gallery_version(conn: Connection) -> int:
    """A number that changes whenever encodings are added or removed or a user is renamed."""
    row = conn.execute("SELECT version FROM gallery_state WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def encoding_counts(conn: Connection) -> dict[int, dict[str, int]]:
    """Per user id, the number of encodings per model."""
    counts: dict[int, dict[str, int]] = {}
    for user_id, model, n in fetch_all(
        conn, "SELECT user_id, model, count(*) FROM face_encodings GROUP BY user_id, model"
    ):
        counts.setdefault(int(user_id), {})[str(model)] = int(n)
    return counts


def samples_missing(conn: Connection, model: str, model_sha256: str) -> list[Sample]:
    """Samples with a chip but no encoding by exactly this model file."""
    rows = fetch_all(
        conn,
        "SELECT s.id, s.user_id, s.chip_path, s.keypoints, s.source, s.detection_score, s.sharpness, s.created_at"
        " FROM face_samples s WHERE s.chip_path IS NOT NULL AND NOT EXISTS (SELECT 1 FROM face_encodings e"
        " WHERE e.sample_id = s.id AND e.model = ? AND e.model_sha256 = ?) ORDER BY s.id",
        (model, model_sha256),
    )
    return [Sample(int(r[0]), int(r[1]), r[2], json.loads(r[3]), r[4], r[5], r[6], str(r[7])) for r in rows]


def replace_encoding(
    conn: Connection,
    sample: Sample,
    model: str,
    model_sha256: str,
    vector: npt.ArrayLike,
    *,
    sealer: Sealer,
    keep_other_files: bool = False,
) -> None:
    """Swap a sample's encoding for ``model`` for a new one. Older files' encodings go too,
    unless ``keep_other_files``: an update keeps the running file's encodings until it switches,
    so the door recognises people meanwhile and a rollback needs no re-embedding."""
    if keep_other_files:
        conn.execute(
            "DELETE FROM face_encodings WHERE sample_id = ? AND model = ? AND model_sha256 = ?",
            (sample.id, model, model_sha256),
        )
    else:
        conn.execute("DELETE FROM face_encodings WHERE sample_id = ? AND model = ?", (sample.id, model))
    add_encoding(conn, sample.user_id, model, model_sha256, vector, sample.id, sealer=sealer)


def prune_files(conn: Connection, model: str, keep: set[str]) -> int:
    """Delete ``model``'s encodings made by any file not in ``keep`` (sha256s); returns how many.
    The original system's (:data:`ORIGINAL_FILES`) stay: no chip could make them again."""
    kept = sorted(keep | set(ORIGINAL_FILES))
    marks = ",".join("?" * len(kept))
    conn.execute(
        f"DELETE FROM face_encodings WHERE model = ? AND model_sha256 NOT IN ({marks})",  # noqa: S608 - placeholders only
        (model, *kept),
    )
    return int(conn.changes())


def encoded_users(conn: Connection, model: str, model_sha256: str) -> dict[int, int]:
    """How many encodings each user has from this exact model file."""
    rows = fetch_all(
        conn,
        "SELECT user_id, count(*) FROM face_encodings WHERE model = ? AND model_sha256 = ? GROUP BY user_id",
        (model, model_sha256),
    )
    return {int(user): int(n) for user, n in rows}


def sample_ids(conn: Connection, user_id: int) -> list[int]:
    """The ids of a user's enrolment samples, oldest first."""
    return [int(r[0]) for r in fetch_all(conn, "SELECT id FROM face_samples WHERE user_id = ? ORDER BY id", (user_id,))]


def users_missing_model(conn: Connection, model: str, model_sha256: str) -> list[int]:
    """Users with ``model`` encodings but none from this exact model file (an update's re-embed
    has not reached them yet)."""
    rows = fetch_all(
        conn,
        "SELECT DISTINCT user_id FROM face_encodings e WHERE model = ? AND NOT EXISTS"
        " (SELECT 1 FROM face_encodings n WHERE n.user_id = e.user_id AND n.model = ? AND n.model_sha256 = ?)",
        (model, model, model_sha256),
    )
    return [int(r[0]) for r in rows]

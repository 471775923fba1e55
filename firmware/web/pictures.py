"""Pictures, decrypted in memory for a logged-in session only.

Snapshots, strangers' pictures and enrolment chips stay sealed on disk. A picture URL names a
record, never a file: ``/pictures/event/<face event id>``, ``/pictures/stranger/<id>``,
``/pictures/attendance/<id>``, ``/pictures/sample/<user id>/<sample id>`` (the sample must
belong to that user). The stored path is checked to lie inside the folder its kind belongs to
(symlinks resolved), the file is opened with its key, and the JPEG goes out with
``Cache-Control: no-store``; nothing is written in the clear.
"""

from __future__ import annotations

from pathlib import Path

from firmware.crypto.keys import IntegrityError
from firmware.errors import NotFoundError
from firmware.imaging.image import encode_jpeg
from firmware.store.db import fetch_all
from firmware.web.console import HttpError, Page
from firmware.web.http import Response

_QUERIES = {
    "event": ("SELECT image_path FROM face_events WHERE id = ?", "snapshot"),
    "attendance": ("SELECT snapshot_path FROM attendance_logs WHERE id = ?", "snapshot"),
    "stranger": ("SELECT snapshot_path FROM unknown_faces WHERE id = ?", "unknown"),
}


def _inside(root: Path, folder: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise NotFoundError("no such picture")
    return path


def _jpeg(data: bytes) -> Response:
    return Response(200, data, "image/jpeg", {"Cache-Control": "no-store, private"})


def picture(page: Page) -> Response:
    """GET /pictures/<kind>/<id>.jpg and /pictures/sample/<user>/<sample>.jpg."""
    app, kind = page.app, page.req.params["kind"]
    paths = app.config.paths
    number = page.param_int("id")
    with app.store.reader() as conn:
        if kind == "sample":
            owner = page.param_int("user")
            rows = fetch_all(conn, "SELECT user_id, chip_path FROM face_samples WHERE id = ?", (number,))
            if not rows or int(rows[0][0]) != owner or not rows[0][1]:
                raise HttpError(404, "no such picture")
            path = _inside(paths.root, paths.face_db / f"user_{owner:03d}", str(rows[0][1]))
            data = app.store.sealer.open_user_blob(conn, owner, "chip", path.read_bytes())
            if data is None:
                raise HttpError(404, "this picture's key is gone")
            return _jpeg(data)
        if kind not in _QUERIES or "user" in page.req.params:
            raise HttpError(404, "no such picture")
        sql, seal = _QUERIES[kind]
        rows = fetch_all(conn, sql, (number,))
    if not rows or not rows[0][0]:
        raise HttpError(404, "no such picture")
    folder = paths.snapshots if seal == "snapshot" else paths.unknown_faces
    path = _inside(paths.root, folder, str(rows[0][0]))
    try:
        return _jpeg(app.store.sealer.open_picture(seal, path.read_bytes()))
    except IntegrityError as err:
        raise HttpError(410, "this picture was altered on disk and is not shown") from err


def still(page: Page) -> Response:
    """GET /camera/still.jpg: the newest camera frame, encoded in memory."""
    frame = page.app.last_frame()
    if frame is None:
        raise HttpError(404, "no camera frame yet")
    return _jpeg(encode_jpeg(frame, 80))

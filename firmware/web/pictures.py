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
from firmware.store.pictures import RECORD_KINDS, record_picture, sample_chip
from firmware.web.console import HttpError, Page
from firmware.web.http import Response

_SEALED_AS = {"event": "snapshot", "attendance": "snapshot", "stranger": "unknown"}


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
            chip = sample_chip(conn, number)
            if chip is None or chip[0] != owner or not chip[1]:
                raise HttpError(404, "no such picture")
            path = _inside(paths.root, paths.face_db / f"user_{owner:03d}", chip[1])
            data = app.store.sealer.open_user_blob(conn, owner, "chip", path.read_bytes())
            if data is None:
                raise HttpError(404, "this picture's key is gone")
            return _jpeg(data)
        record = next((k for k in RECORD_KINDS if k == kind), None)
        if record is None or "user" in page.req.params:
            raise HttpError(404, "no such picture")
        stored = record_picture(conn, record, number)
    if stored is None:
        raise HttpError(404, "no such picture")
    seal = _SEALED_AS[record]
    folder = paths.snapshots if seal == "snapshot" else paths.unknown_faces
    path = _inside(paths.root, folder, stored)
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

"""``occur demo``: the storage system end to end on a scratch data folder.

What it shows, in order: a database written the way the original OCCUR-CALL code wrote it
(``face_events.db`` and a main database with an old ``unknown`` table) is imported without loss
and a second import adds nothing; the documented API logs events from several threads at once,
each call returning only when its row is on disk; users and attendance sit in the original
tables; the database passes its integrity, foreign key and schema checks.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from pathlib import Path

from firmware.config import Paths
from firmware.errors import InvalidInputError
from firmware.platform.clock import now_iso
from firmware.store import inspect, legacy, users
from firmware.store.db import Connection
from firmware.store.events import Event, list_events
from firmware.store.store import Store
from occur_dev import original_system

_PEOPLE = (
    ("Ada Lovelace", "ada@example.org", "staff"),
    ("Alan Turing", "alan@example.org", "staff"),
    ("Grace Hopper", None, "visitor"),
)


@dataclass(frozen=True)
class DemoReport:
    """What the demo did, for the CLI to print."""

    data_dir: Path
    first_import: legacy.ImportReport
    second_import: legacy.ImportReport
    events_logged: int
    commits: int
    recent: list[Event]
    check: inspect.CheckReport
    stats: inspect.Stats


def _attend(conn: Connection, user_id: int) -> None:
    conn.execute(
        "INSERT INTO attendance_logs (user_id, status, timestamp) VALUES (?, 'recognized', ?)",
        (user_id, now_iso()),
    )


def check_folder(data_dir: Path) -> None:
    """Refuse a demo folder that exists as a file or holds anything (InvalidInputError)."""
    if data_dir.exists() and not data_dir.is_dir():
        raise InvalidInputError(f"demo folder {data_dir} is not a folder")
    if data_dir.is_dir() and any(data_dir.iterdir()):
        raise InvalidInputError(f"demo folder {data_dir} is not empty: give --into a new or empty folder")


def run(data_dir: Path, threads: int = 4, per_thread: int = 25) -> DemoReport:
    """Run the demo in ``data_dir`` (created; must be empty or new).

    Raises:
        InvalidInputError: ``data_dir`` is a file, or a folder that is not empty (the demo never
            writes beside someone's files).
    """
    check_folder(data_dir)
    paths = Paths(data_dir)
    face_db, main_db = original_system.write_databases(data_dir / "original-system")
    with Store.open(paths) as store:
        first = legacy.import_legacy(store, face_db, main_db, UTC)
        second = legacy.import_legacy(store, face_db, main_db, UTC)
        ids = [store.write(partial(users.add_user, name=n, email=e, role=r)) for n, e, r in _PEOPLE]
        store.log_system_event("system_start", f"demo, pid {os.getpid()}")
        commits_before = store.writer.commits

        def door(n: int) -> None:
            for i in range(per_thread):
                user = ids[(n + i) % len(ids)]
                store.log_face_event("recognized", str(user), f"data/snapshots/demo_{n}_{i}.jpg", 0.90 + (i % 10) / 100)

        workers = [threading.Thread(target=door, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        commits = store.writer.commits - commits_before
        store.write(partial(_attend, user_id=ids[0]))
        store.log_system_event("system_stop", "demo finished")
        with store.reader() as conn:
            recent = list_events(conn, None, None, 8)
            check = inspect.check(conn, full=True)
            stats = inspect.stats(conn, paths.database)
    return DemoReport(data_dir, first, second, threads * per_thread, commits, recent, check, stats)

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

The process keeps one open :class:`~firmware.store.store.Store` per data folder and closes it
at exit; a forked child opens its own.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path

from firmware import config as config_module
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
            store = Store.open(config.paths, config.storage)
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
    user_id: str | None = None,
    image_path: str | None = None,
    confidence: float | None = None,
) -> None:
    """Log a face detection or recognition event; returns once it is on disk.

    Args:
        event_type: ``recognized``, ``unknown`` or ``auto_register``.
        user_id: who was recognised (text, as in the original).
        image_path: the saved image, if any.
        confidence: recognition confidence in [0, 1].

    Raises:
        ValueError: a bad argument; nothing is written.
        firmware.errors.StoreError: the event could not be recorded (disk full, locked...).
    """
    _store().log_face_event(event_type, user_id, image_path, confidence)


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

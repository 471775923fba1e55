"""Schema migrations: numbered SQL files applied by ``PRAGMA user_version``.

After sqlite-utils' ``migrations.py`` and apsw's schema tips: each migration runs in its own
transaction together with its ``user_version`` bump, so a crash or an error leaves the database
at the previous version, never in between. Before an existing database is migrated, an online
backup (SQLite backup API, consistent even while others read) is written to the backups folder.
A database newer than the code, or one that belongs to another application, is refused.
"""

from __future__ import annotations

import importlib.resources
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from firmware.errors import SchemaError
from firmware.platform.clock import now_utc
from firmware.store.db import APPLICATION_ID, Connection, in_transaction, online_backup, translate

log = logging.getLogger(__name__)

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    """One schema step: ``version`` is the ``user_version`` after it is applied."""

    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate` did."""

    from_version: int
    to_version: int
    applied: tuple[str, ...] = ()
    backup: Path | None = None
    adopted_legacy: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def load_migrations() -> list[Migration]:
    """Read the packaged migration files in version order.

    Raises:
        SchemaError: a gap or a duplicate in the numbering (a packaging bug).
    """
    found: dict[int, Migration] = {}
    for entry in importlib.resources.files("firmware.store.migrations").iterdir():
        match = _NAME.fullmatch(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise SchemaError(f"two migrations numbered {version}")
        found[version] = Migration(version, entry.name, entry.read_text(encoding="utf-8"))
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise SchemaError(f"migration numbers are not contiguous from 1: {versions}")
    return [found[v] for v in versions]


def latest_version() -> int:
    """The schema version this code writes."""
    return len(load_migrations())


def schema_version(conn: Connection) -> int:
    """The database's ``PRAGMA user_version``."""
    return int(conn.pragma("user_version"))


def _table_count(conn: Connection) -> int:
    row = conn.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()
    return int(row[0]) if row else 0


def check_ownership(conn: Connection, latest: int) -> bool:
    """Verify the database is ours (or an original OCCUR-CALL database) and not too new.

    Returns:
        True when it is an original-system database to be adopted (no application id, no
        version, but tables).

    Raises:
        SchemaError: another application's database, or a schema newer than ``latest``.
    """
    app_id = int(conn.pragma("application_id"))
    version = schema_version(conn)
    if app_id not in (0, APPLICATION_ID):
        raise SchemaError(f"database belongs to another application (application_id {app_id:#x}); refusing to touch it")
    if version > latest:
        raise SchemaError(
            f"database schema version {version} is newer than this firmware supports ({latest}): "
            "upgrade the firmware, or restore a backup made by this version"
        )
    return app_id == 0 and version == 0 and _table_count(conn) > 0


def migrate(conn: Connection, backups_dir: Path, migrations: list[Migration] | None = None) -> MigrationReport:
    """Bring the database to the latest schema.

    Args:
        conn: a writer connection with no open transaction.
        backups_dir: where the pre-migration backup goes (created if missing).
        migrations: for tests; defaults to the packaged files.

    Raises:
        SchemaError: refused database (see :func:`check_ownership`) or a failed step (rolled back;
            the database stays at the last good version).
        StorageFullError: no room for the backup or the migration.
    """
    steps = load_migrations() if migrations is None else migrations
    latest = steps[-1].version if steps else 0
    legacy = check_ownership(conn, latest)
    start = schema_version(conn)
    pending = [m for m in steps if m.version > start]
    if not pending:
        return MigrationReport(start, start)
    backup: Path | None = None
    if _table_count(conn) > 0:
        backups_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = now_utc().strftime("%Y%m%d_%H%M%S")
        backup = backups_dir / f"pre-migrate_v{start}-to-v{latest}_{stamp}.db"
        online_backup(conn, backup)
        log.info("backed up the database to %s before migrating v%d -> v%d", backup, start, latest)
    applied: list[str] = []
    for step in pending:
        _apply(conn, step)
        applied.append(step.name)
        log.info("applied migration %s", step.name)
    return MigrationReport(start, latest, tuple(applied), backup, legacy)


def _apply(conn: Connection, step: Migration) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(step.sql)
        conn.execute(f"PRAGMA user_version={step.version}")
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException as err:
        if in_transaction(conn):
            conn.execute("ROLLBACK")
        mapped = translate(err)
        if mapped is not err:
            raise mapped from err
        raise SchemaError(f"migration {step.name} failed and was rolled back: {err}") from err

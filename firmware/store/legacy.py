"""Import of the original OCCUR-CALL databases: ``occur db import-legacy``.

The original system wrote two SQLite files: ``face_events.db`` (``face_events``,
``system_events``) and a main database (``users``, ``attendance_logs``, ``unknown_faces`` and,
in old versions, ``unknown``). This module copies them into the appliance's database.

Promises, and how they are kept:

- **Nothing is lost.** Every source row is stored verbatim, as JSON, in ``legacy_imports``
  (blobs as base64, every value with its SQLite type), beside the row it became. Imported rows
  are normalised only where the appliance needs one form: timestamps become ISO 8601 UTC.
- **Safe to run twice.** A row's fingerprint is the sha256 of its table, rowid, column names,
  values and types. A fingerprint already in ``legacy_imports`` is skipped, so a second run, a
  grown source (only new rows are added) or a copy of the file under another path adds nothing
  twice. A source row that was edited since is a new row.
- **All or nothing.** The sources are read first, read-only; the whole import is one write
  transaction, so a conflict or a constraint violation leaves the target unchanged.
- **Templates are sealed.** A legacy ``face_encoding`` (a BLOB, or TEXT, whatever its type) is
  biometric: it is stored sealed under the user's key (in ``users.face_encoding`` and in the
  verbatim copy), never in the clear. When it holds the original's 128-D dlib descriptor it also
  becomes a dlib encoding (sealed, model file ``original:face_recognition``), so
  ``verify_face`` and the door recognise the person (see README, "Legacy templates").
- **Nothing unsafe gets in.** A row the appliance could not keep safely is refused with its
  reason and reported (see :mod:`firmware.store.legacy_rows`): a stranger's picture path outside
  ``unknown_faces/``, a user name that could not be addressed or shown, or a name another person
  already has. The rest is imported.
- **Ids are reassigned** (the target may already hold users); attendance rows follow their user
  through the user row's fingerprint.

Timestamps: SQLite's ``CURRENT_TIMESTAMP`` form (``2024-01-15 14:30:22``) is UTC by definition;
a naive ISO value with ``T`` was written by ``datetime.now().isoformat()`` in the device's local
zone, given as ``naive_zone``; values with an offset are converted; anything unparseable is kept
verbatim and counted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path

from firmware.errors import LegacyImportError, StoreError
from firmware.platform.clock import now_iso, parse_iso, to_iso
from firmware.store import encodings, users
from firmware.store.db import Connection, is_constraint_error, open_plain
from firmware.store.legacy_rows import Refusal, picture_problem, template_bytes, template_vector, user_problem
from firmware.store.sealing import Sealer
from firmware.store.store import Store

log = logging.getLogger(__name__)

# source table -> (target table, target columns, timestamp columns)
_FACE_TABLES = {
    "face_events": ("face_events", ("timestamp", "event_type", "user_id", "image_path", "confidence"), {"timestamp"}),
    "system_events": ("system_events", ("timestamp", "event_type", "details"), {"timestamp"}),
}
_MAIN_TABLES = {
    "users": ("users", ("name", "email", "role", "face_encoding", "created_at"), {"created_at"}),
    "attendance_logs": ("attendance_logs", ("user_id", "status", "timestamp", "snapshot_path"), {"timestamp"}),
    "unknown_faces": (
        "unknown_faces",
        ("snapshot_path", "first_seen", "last_seen", "seen_count"),
        {"first_seen", "last_seen"},
    ),
    "unknown": (
        "unknown_faces",
        ("snapshot_path", "first_seen", "last_seen", "seen_count"),
        {"first_seen", "last_seen"},
    ),
}
_SQLITE_UTC = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d(\.\d+)?)?")

Value = int | float | str | bytes | None


@dataclass(frozen=True)
class SourceRow:
    """One row read from a legacy table."""

    rowid: int
    columns: tuple[str, ...]
    values: tuple[Value, ...]

    def get(self, name: str) -> Value:
        """The value of column ``name``, ``None`` when the old table lacks it."""
        return self.values[self.columns.index(name)] if name in self.columns else None


@dataclass(frozen=True)
class SourceTable:
    """A legacy table read into memory."""

    file: Path
    name: str
    rows: tuple[SourceRow, ...]


@dataclass(frozen=True)
class TableReport:
    """Counts for one source table."""

    source_file: str
    source_table: str
    target_table: str
    found: int
    imported: int
    already: int
    kept_verbatim_timestamps: int = 0
    orphans: int = 0
    refused: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """What an import did, per source table."""

    tables: tuple[TableReport, ...]

    @property
    def imported(self) -> int:
        """Rows added by this run."""
        return sum(t.imported for t in self.tables)

    @property
    def already(self) -> int:
        """Rows skipped because an earlier run imported them."""
        return sum(t.already for t in self.tables)

    @property
    def refused(self) -> int:
        """Rows not imported because the appliance could not keep them safely."""
        return sum(len(t.refused) for t in self.tables)


def _tagged(value: Value) -> object:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _type(value: Value) -> str:
    return {bytes: "blob", int: "integer", float: "real", str: "text"}.get(type(value), "null")


def fingerprint(table: str, row: SourceRow) -> str:
    """sha256 over the table, rowid, column names, values and their SQLite types."""
    payload = [table, row.rowid, [[c, _type(v), _tagged(v)] for c, v in zip(row.columns, row.values, strict=True)]]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def source_json(row: SourceRow, replaced: dict[str, object] | None = None) -> str:
    """The row verbatim: ``{"rowid": n, "columns": {...}}`` with typed blobs and non-finite floats;
    ``replaced`` columns are stored as given (a sealed biometric instead of its plaintext)."""
    columns = {c: _tagged(v) for c, v in zip(row.columns, row.values, strict=True)}
    columns.update(replaced or {})
    return json.dumps({"rowid": row.rowid, "columns": columns}, ensure_ascii=False)


def normalise_timestamp(value: Value, naive_zone: tzinfo) -> tuple[Value, bool]:
    """Return the stored form of a legacy timestamp and whether it had to be kept verbatim."""
    if value is None:
        return None, False
    if not isinstance(value, str):
        return value, True
    text = value.strip()
    zone = UTC if _SQLITE_UTC.fullmatch(text) else naive_zone
    try:
        return to_iso(parse_iso(text, assume=zone)), False
    except ValueError:
        return value, True


def _read(file: Path, wanted: Sequence[str]) -> list[SourceTable]:
    if not file.is_file():
        raise LegacyImportError(f"{file}: no such file")
    try:
        conn = open_plain(file, readonly=True)
    except StoreError as err:
        raise LegacyImportError(f"{file}: cannot be opened as a database: {err}") from err
    try:
        present = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        tables = []
        for name in wanted:
            if name not in present:
                continue
            columns = tuple(str(r[1]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (name,)))
            quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
            rows = tuple(
                SourceRow(int(r[0]), columns, tuple(r[1:]))
                for r in conn.execute(f'SELECT rowid, {quoted} FROM "{name}" ORDER BY rowid')  # noqa: S608
            )
            tables.append(SourceTable(file, name, rows))
        return tables
    except Exception as err:
        if isinstance(err, LegacyImportError):
            raise
        raise LegacyImportError(f"{file}: not a readable OCCUR-CALL database: {err}") from err
    finally:
        conn.close()


def import_legacy(store: Store, face_events: Path | None, main_db: Path | None, naive_zone: tzinfo) -> ImportReport:
    """Import the original databases into ``store`` in one transaction.

    Args:
        face_events: the original ``face_events.db`` (optional).
        main_db: the original main database (optional).
        naive_zone: zone of naive ISO timestamps written by the original Python code.

    Raises:
        LegacyImportError: a missing or unreadable file, a user whose email belongs to a
            different person in the target, or a row the target's constraints refuse.
            Nothing is written.
    """
    sources: list[tuple[SourceTable, tuple[str, tuple[str, ...], set[str]]]] = []
    if face_events is not None:
        sources += [(t, _FACE_TABLES[t.name]) for t in _read(face_events, list(_FACE_TABLES))]
    if main_db is not None:
        sources += [(t, _MAIN_TABLES[t.name]) for t in _read(main_db, list(_MAIN_TABLES))]
    legacy_users = {row.rowid: row for table, _ in sources if table.name == "users" for row in table.rows}

    sealer, root = store.sealer, store.paths.root

    def write(conn: Connection) -> ImportReport:
        return ImportReport(
            tuple(_import_table(conn, t, spec, legacy_users, naive_zone, sealer, root) for t, spec in sources)
        )

    try:
        report = store.write(write)
    except LegacyImportError:
        raise
    except Exception as err:
        if is_constraint_error(err):
            raise LegacyImportError(f"a legacy row violates the documented schema, nothing imported: {err}") from err
        raise
    log.info(
        "legacy import: %d rows imported, %d already present, %d refused",
        report.imported,
        report.already,
        report.refused,
    )
    return report


def _seen(conn: Connection, print_: str) -> int | None:
    row = conn.execute("SELECT target_id FROM legacy_imports WHERE fingerprint = ?", (print_,)).fetchone()
    return None if row is None else int(row[0])


def _import_table(
    conn: Connection,
    table: SourceTable,
    spec: tuple[str, tuple[str, ...], set[str]],
    legacy_users: dict[int, SourceRow],
    zone: tzinfo,
    sealer: Sealer,
    root: Path,
) -> TableReport:
    target, columns, stamps = spec
    imported = already = verbatim = orphans = 0
    refused: list[Refusal] = []
    for row in table.rows:
        print_ = fingerprint(table.name, row)
        if _seen(conn, print_) is not None:
            already += 1
            continue
        target_id = _existing_user(conn, row) if target == "users" else None
        problem = _problem(conn, target, row, root, mapped=target_id is not None)
        if problem is not None:
            refused.append(Refusal(row.rowid, problem))
            continue
        values: list[Value] = []
        for column in columns:
            value = row.get(column)
            if column in stamps:
                value, kept = normalise_timestamp(value, zone)
                verbatim += kept
            values.append(value)
        if target == "attendance_logs":
            values[0], orphan = _user_target(conn, row.get("user_id"), legacy_users)
            orphans += orphan
        template = values[columns.index("face_encoding")] if target == "users" else None
        if template is not None:
            values[columns.index("face_encoding")] = None  # never stored in the clear; sealed below
        if target == "users" and isinstance(values[0], str):
            values[0] = users.normal_name(values[0])
        if target_id is None:
            marks = ", ".join("?" for _ in columns)
            conn.execute(f"INSERT INTO {target} ({', '.join(columns)}) VALUES ({marks})", values)  # noqa: S608
            target_id = int(conn.last_insert_rowid())
        replaced: dict[str, object] = {}
        if template is not None:
            replaced["face_encoding"] = _seal_template(conn, sealer, target_id, template)
        conn.execute(
            "INSERT INTO legacy_imports (fingerprint, source_file, source_table, source_id, target_table, target_id,"
            " source_row, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                print_,
                str(table.file.resolve()),
                table.name,
                row.rowid,
                target,
                target_id,
                source_json(row, replaced),
                now_iso(),
            ),
        )
        imported += 1
    return TableReport(
        str(table.file), table.name, target, len(table.rows), imported, already, verbatim, orphans, tuple(refused)
    )


def _problem(conn: Connection, target: str, row: SourceRow, root: Path, mapped: bool) -> str | None:
    if target == "unknown_faces":
        return picture_problem(root, row.get("snapshot_path"))
    if target == "users":
        return user_problem(conn, row.get("name"), mapped)
    return None


def _seal_template(conn: Connection, sealer: Sealer, user_id: int, template: Value) -> dict[str, object]:
    """Seal a legacy template into ``users.face_encoding`` (and, when it is a dlib descriptor,
    into the user's dlib encodings); returns what the verbatim copy keeps instead of it."""
    plain, kind = template_bytes(template)
    sealed = sealer.seal_user_blob(conn, user_id, "legacy-face-encoding", plain)
    conn.execute("UPDATE users SET face_encoding = ? WHERE id = ?", (sealed, user_id))
    vector = template_vector(template)
    if vector is not None:
        encodings.add_encoding(conn, user_id, "dlib", encodings.ORIGINAL_DLIB, vector, sealer=sealer)
    else:
        log.warning("legacy user %d: face_encoding is not a 128-D dlib descriptor; kept sealed, not used", user_id)
    return {"sealed_base64": base64.b64encode(sealed).decode("ascii"), "type": kind}


def _user_target(conn: Connection, legacy_id: Value, legacy_users: dict[int, SourceRow]) -> tuple[int | None, int]:
    """The target user id of a legacy attendance row's ``user_id``, and 1 if it is an orphan."""
    if legacy_id is None:
        return None, 0
    source = legacy_users.get(legacy_id) if isinstance(legacy_id, int) else None
    if source is None:
        return None, 1
    target = _seen(conn, fingerprint("users", source))
    return target, 0 if target is not None else 1


def _existing_user(conn: Connection, row: SourceRow) -> int | None:
    """The target user a legacy user maps onto: same email and same name. Another person with
    the same email is a conflict the operator must resolve."""
    email = row.get("email")
    if email is None:
        return None
    match = conn.execute("SELECT id, name FROM users WHERE email = ?", (email,)).fetchone()
    if match is None:
        return None
    name = row.get("name")
    if not isinstance(name, str) or users.name_key(str(match[1])) != users.name_key(name):
        raise LegacyImportError(
            f"legacy user {row.get('name')!r} has email {email!r}, which belongs to user {match[0]} ({match[1]!r}) "
            "here; rename or remove one of them and import again (nothing was imported)"
        )
    return int(match[0])

"""Import of the original system's databases (placeholder, being written)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from firmware.store.store import Store


@dataclass(frozen=True)
class TableReport:
    """Per source table counts."""

    source_file: str
    source_table: str
    target_table: str
    found: int
    imported: int
    already: int


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    tables: tuple[TableReport, ...]

    @property
    def imported(self) -> int:
        """Rows added."""
        return sum(t.imported for t in self.tables)

    @property
    def already(self) -> int:
        """Rows skipped because an earlier run imported them."""
        return sum(t.already for t in self.tables)


def import_legacy(store: Store, face_events: Path | None, main_db: Path | None, naive_zone: tzinfo) -> ImportReport:
    """Import the original databases."""
    raise NotImplementedError

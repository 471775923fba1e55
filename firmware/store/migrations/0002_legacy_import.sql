-- Rows imported from databases of the original system ('occur db import-legacy').
-- fingerprint: sha256 of the source row (table name, every column, values and types), so an
-- import run twice, or the same file found under another path, adds nothing new.
-- source_row: the source row as JSON, verbatim (blobs as base64): nothing of the original is
-- lost even where the imported row was normalised (timestamps to ISO 8601 with offset).
CREATE TABLE legacy_imports (
    fingerprint TEXT PRIMARY KEY,
    source_file TEXT NOT NULL,
    source_table TEXT NOT NULL,
    source_id INTEGER,
    target_table TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    source_row TEXT NOT NULL,
    imported_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX legacy_imports_target ON legacy_imports(target_table, target_id);

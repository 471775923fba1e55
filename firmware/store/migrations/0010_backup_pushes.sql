-- Which sealed backups reached the configured target (HTTP PUT); unconfirmed ones are kept.
CREATE TABLE backup_pushes (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('pushed', 'failed')),
    attempts INTEGER NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL
);

-- Which data key the database is sealed under (a fingerprint, not the key): lets an interrupted
-- key rotation be finished or undone safely.
CREATE TABLE key_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    rotated_at TEXT NOT NULL
);

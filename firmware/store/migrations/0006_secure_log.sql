-- The secure log: append-only, each entry's data sealed (AES-256-GCM), each entry chained to the
-- previous one by a keyed hash (HMAC-SHA256), with Ed25519-signed checkpoints of the chain head.
CREATE TABLE secure_log (
    seq INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL,
    user_id TEXT,
    sealed BLOB NOT NULL,
    chain BLOB NOT NULL
);
CREATE INDEX secure_log_user ON secure_log(user_id, timestamp);
CREATE INDEX secure_log_timestamp ON secure_log(timestamp);
CREATE TABLE secure_log_checkpoints (
    seq INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    chain BLOB NOT NULL,
    signature BLOB NOT NULL
);
-- Entries are never updated; deleting is only for retention, oldest first, below a checkpoint.
CREATE TRIGGER secure_log_no_update BEFORE UPDATE ON secure_log
    BEGIN SELECT RAISE(ABORT, 'the secure log is append-only'); END;

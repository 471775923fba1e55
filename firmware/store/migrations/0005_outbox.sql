-- Transactional outbox: every MQTT event is a row written in the same transaction as the record it
-- announces; the publisher sends rows in id order with QoS 1 and sets sent_at only on PUBACK.
-- seq orders delivery; event_id (time-sortable, unique) is what subscribers deduplicate on.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    topic TEXT NOT NULL,          -- relative to the device prefix, e.g. 'events'
    kind TEXT NOT NULL CHECK (kind IN ('access', 'door', 'system')),
    payload TEXT NOT NULL,        -- JSON
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;

-- Nonces of accepted commands, so a replay is refused even across a restart.
CREATE TABLE command_nonces (
    nonce TEXT PRIMARY KEY,
    seen_at TEXT NOT NULL
);

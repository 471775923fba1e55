-- The appliance loop's records.
-- door_events: every door decision and door input, with its reason; face_event_id links a
-- decision to the face_events row written in the same transaction.
CREATE TABLE door_events (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('granted', 'denied', 'exit_request', 'forced_open',
                                             'held_open', 'closed', 'tamper')),
    reason TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    face_event_id INTEGER REFERENCES face_events(id) ON DELETE SET NULL,
    score REAL
);
CREATE INDEX door_events_timestamp ON door_events(timestamp);

-- Whether a user may use the doors at all (no row = active).
CREATE TABLE user_access (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    changed_at TEXT NOT NULL
);

-- Embeddings of strangers, so that the same stranger coming back updates its unknown_faces row.
CREATE TABLE unknown_encodings (
    id INTEGER PRIMARY KEY,
    unknown_id INTEGER NOT NULL REFERENCES unknown_faces(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim BETWEEN 1 AND 4096),
    vector BLOB NOT NULL,
    created_at TEXT NOT NULL,
    CHECK (length(vector) = 4 * dim)
);
CREATE INDEX unknown_encodings_unknown ON unknown_encodings(unknown_id);
CREATE INDEX unknown_encodings_model ON unknown_encodings(model, unknown_id);

-- The tables of the original OCCUR-CALL storage documentation, column for column.
-- IF NOT EXISTS: a database written by the original system is adopted as it is.

CREATE TABLE IF NOT EXISTS face_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL,
    user_id TEXT,
    image_path TEXT,
    confidence REAL
);

CREATE TABLE IF NOT EXISTS system_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL,
    details TEXT
);

CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    role TEXT,
    face_encoding BLOB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS attendance_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER,
    status TEXT CHECK(status IN ('recognized', 'manual', 'corrected')),
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    snapshot_path TEXT,
    FOREIGN KEY(user_id) REFERENCES users(id)
);

CREATE TABLE IF NOT EXISTS unknown_faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_path TEXT,
    first_seen TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_seen TIMESTAMP,
    seen_count INTEGER DEFAULT 1
);

-- The documented migration of the old 'unknown' table: copy its rows into unknown_faces, then
-- drop it. Creating an empty one first makes the step unconditional; if an old table lacks one
-- of these columns, the migration fails and is rolled back, with nothing lost.
CREATE TABLE IF NOT EXISTS unknown (
    snapshot_path TEXT,
    first_seen TIMESTAMP,
    last_seen TIMESTAMP,
    seen_count INTEGER
);
INSERT INTO unknown_faces (snapshot_path, first_seen, last_seen, seen_count)
    SELECT snapshot_path, first_seen, last_seen, seen_count FROM unknown;
DROP TABLE unknown;

-- Indexes on the columns queries filter by.
CREATE INDEX IF NOT EXISTS face_events_timestamp ON face_events(timestamp);
CREATE INDEX IF NOT EXISTS face_events_event_type ON face_events(event_type, timestamp);
CREATE INDEX IF NOT EXISTS face_events_user_id ON face_events(user_id, timestamp);
CREATE INDEX IF NOT EXISTS system_events_timestamp ON system_events(timestamp);
CREATE INDEX IF NOT EXISTS system_events_event_type ON system_events(event_type, timestamp);
CREATE INDEX IF NOT EXISTS users_name ON users(name);
CREATE INDEX IF NOT EXISTS attendance_logs_user_id ON attendance_logs(user_id, timestamp);
CREATE INDEX IF NOT EXISTS attendance_logs_timestamp ON attendance_logs(timestamp);
CREATE INDEX IF NOT EXISTS unknown_faces_last_seen ON unknown_faces(last_seen);

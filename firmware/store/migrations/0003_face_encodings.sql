-- Face verification storage: enrolment samples and per-model encodings.
-- A sample is one accepted enrolment photo; its aligned chip is kept as a JPEG under
-- face_db/ (path relative to the data folder) so that a new model can re-embed it. Each sample
-- has one encoding per embedding model; encodings of different models are never compared.
-- compat.store_face_encoding() may add an encoding without a sample (sample_id NULL).
CREATE TABLE face_samples (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chip_path TEXT UNIQUE,
    keypoints TEXT NOT NULL DEFAULT '[]',  -- JSON [[x, y] x 6] in the chip's pixels
    source TEXT,                            -- what the sample came from (file name, camera)
    detection_score REAL,
    sharpness REAL,
    created_at TEXT NOT NULL
);
CREATE INDEX face_samples_user ON face_samples(user_id);

CREATE TABLE face_encodings (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sample_id INTEGER REFERENCES face_samples(id) ON DELETE CASCADE,
    model TEXT NOT NULL,          -- manifest name, e.g. 'sface', 'dlib'
    model_sha256 TEXT NOT NULL,   -- exact model file; a different file means re-embedding
    dim INTEGER NOT NULL CHECK (dim BETWEEN 1 AND 4096),
    vector BLOB NOT NULL,         -- dim x float32, little-endian
    created_at TEXT NOT NULL,
    CHECK (length(vector) = 4 * dim),
    UNIQUE (sample_id, model)
);
CREATE INDEX face_encodings_model ON face_encodings(model, user_id);
CREATE INDEX face_encodings_user ON face_encodings(user_id);

-- A counter that any change to the gallery bumps, so a running matcher notices without a
-- restart by reading one integer.
CREATE TABLE gallery_state (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO gallery_state VALUES (1, 0);
CREATE TRIGGER face_encodings_added AFTER INSERT ON face_encodings
    BEGIN UPDATE gallery_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER face_encodings_removed AFTER DELETE ON face_encodings
    BEGIN UPDATE gallery_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_renamed AFTER UPDATE OF name ON users
    BEGIN UPDATE gallery_state SET version = version + 1 WHERE id = 1; END;

-- Encryption at rest of face templates: per-user keys (wrapped under the device data key) and
-- encodings stored sealed (AES-256-GCM), so their BLOBs are no longer 4 x dim bytes. Erasing a
-- user's key row makes every copy of their templates unreadable (crypto-shredding).
CREATE TABLE user_keys (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    wrapped BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE face_encodings_sealed (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sample_id INTEGER REFERENCES face_samples(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim BETWEEN 1 AND 4096),
    vector BLOB NOT NULL,         -- sealed: nonce (12) + ciphertext (4 x dim) + tag (16); plaintext rows from before are 4 x dim
    created_at TEXT NOT NULL,
    CHECK (length(vector) IN (4 * dim, 4 * dim + 28)),
    UNIQUE (sample_id, model)
);
INSERT INTO face_encodings_sealed SELECT * FROM face_encodings;
DROP TABLE face_encodings;
ALTER TABLE face_encodings_sealed RENAME TO face_encodings;
CREATE INDEX face_encodings_model ON face_encodings(model, user_id);
CREATE INDEX face_encodings_user ON face_encodings(user_id);
CREATE TRIGGER face_encodings_added AFTER INSERT ON face_encodings
    BEGIN UPDATE gallery_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER face_encodings_removed AFTER DELETE ON face_encodings
    BEGIN UPDATE gallery_state SET version = version + 1 WHERE id = 1; END;

CREATE TABLE unknown_encodings_sealed (
    id INTEGER PRIMARY KEY,
    unknown_id INTEGER NOT NULL REFERENCES unknown_faces(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim BETWEEN 1 AND 4096),
    vector BLOB NOT NULL,
    created_at TEXT NOT NULL,
    CHECK (length(vector) IN (4 * dim, 4 * dim + 28))
);
INSERT INTO unknown_encodings_sealed SELECT * FROM unknown_encodings;
DROP TABLE unknown_encodings;
ALTER TABLE unknown_encodings_sealed RENAME TO unknown_encodings;
CREATE INDEX unknown_encodings_unknown ON unknown_encodings(unknown_id);
CREATE INDEX unknown_encodings_model ON unknown_encodings(model, unknown_id);

-- Model updates: a sample may hold encodings from two files of one model at once (the running
-- release's and the one being installed), so a switch needs no pause and a rollback no
-- re-embedding. Uniqueness moves from (sample, model) to (sample, model, file).
CREATE TABLE face_encodings_v11 (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sample_id INTEGER REFERENCES face_samples(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL CHECK (dim BETWEEN 1 AND 4096),
    vector BLOB NOT NULL,         -- sealed: nonce (12) + ciphertext (4 x dim) + tag (16)
    created_at TEXT NOT NULL,
    CHECK (length(vector) IN (4 * dim, 4 * dim + 28)),
    UNIQUE (sample_id, model, model_sha256)
);
INSERT INTO face_encodings_v11 SELECT * FROM face_encodings;
DROP TABLE face_encodings;
ALTER TABLE face_encodings_v11 RENAME TO face_encodings;
CREATE INDEX face_encodings_model ON face_encodings(model, model_sha256, user_id);
CREATE INDEX face_encodings_user ON face_encodings(user_id);
CREATE TRIGGER face_encodings_added AFTER INSERT ON face_encodings
    BEGIN UPDATE gallery_state SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER face_encodings_removed AFTER DELETE ON face_encodings
    BEGIN UPDATE gallery_state SET version = version + 1 WHERE id = 1; END;

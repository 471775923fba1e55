-- Consent to biometric enrolment: who recorded it, which text version, when. Deleted with the
-- user (the secure log keeps the fact, without biometric data).
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    given_by TEXT NOT NULL,
    text_version TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX consents_user ON consents(user_id);

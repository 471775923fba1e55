-- Presentation-attack capture sessions (occur pad record): consented recordings of bona fide
-- visits and attacks on this door's own camera, for occur pad report (ISO/IEC 30107-3 APCER
-- per species, BPCER). Frames live sealed under pad/<id>/; a row says what they show.
CREATE TABLE pad_sessions (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    species TEXT NOT NULL CHECK (species IN ('bona_fide', 'print', 'phone', 'tablet', 'video_replay', 'mask', 'other')),
    subject TEXT NOT NULL,            -- a pseudonymous label chosen by the operator, never a name
    instrument TEXT NOT NULL DEFAULT '',  -- what was presented: paper and printer, device model, ...
    consent_by TEXT NOT NULL,
    consent_text_version TEXT NOT NULL,
    frames INTEGER NOT NULL CHECK (frames >= 0),
    fps REAL NOT NULL CHECK (fps > 0),
    challenge TEXT,                   -- JSON {"kind", "shown_at"} when a challenge was shown
    folder TEXT NOT NULL UNIQUE,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE INDEX pad_sessions_species ON pad_sessions(species);

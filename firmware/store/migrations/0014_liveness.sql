-- Liveness (presentation-attack detection): every door decision keeps the verdict the policy
-- judged it on (live, attack, not_proven; NULL when not checked) and every cue measured, as
-- JSON ({"policy", "verdict", "cue", "cues", "reason", "challenge"?}).
ALTER TABLE door_events ADD COLUMN liveness TEXT CHECK (liveness IN ('live', 'attack', 'not_proven'));
ALTER TABLE door_events ADD COLUMN liveness_cues TEXT;

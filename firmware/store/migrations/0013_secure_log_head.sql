-- The highest secure-log sequence number ever written: a counter that only grows, so a log that
-- has had entries cannot pass as complete after its tail (or all of it) was deleted with SQL.
-- Retention deletes old entries, never the counter. An attacker who can drop triggers can reset
-- it too; the head file beside the keys and checkpoints held outside the device cover that case.
CREATE TABLE secure_log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO secure_log_head (id, seq) SELECT 1, coalesce(max(seq), 0) FROM secure_log;
CREATE TRIGGER secure_log_head_follows AFTER INSERT ON secure_log
    BEGIN UPDATE secure_log_head SET seq = max(seq, NEW.seq) WHERE id = 1; END;
CREATE TRIGGER secure_log_head_only_grows BEFORE UPDATE ON secure_log_head WHEN NEW.seq < OLD.seq
    BEGIN SELECT RAISE(ABORT, 'the secure log head only grows'); END;
CREATE TRIGGER secure_log_head_kept BEFORE DELETE ON secure_log_head
    BEGIN SELECT RAISE(ABORT, 'the secure log head is kept'); END;

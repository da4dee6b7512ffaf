-- hush schema, version 5: the audit log without the unique index on prev_hash. Rows are
-- chained under the write lock from the row with the highest seq, and seq is the primary key,
-- so a second row after the same one is refused by the key already; the index only cost a
-- random B-tree page per appended row (hashes are random), written to the log at every commit
-- of the read path's audit rows.

CREATE TABLE audit_log_v5 (
    seq         INTEGER PRIMARY KEY,
    ts_ms       INTEGER NOT NULL,
    actor_id    TEXT    NOT NULL,
    actor_name  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    workspace   TEXT,
    key         TEXT,
    version     INTEGER,
    outcome     TEXT    NOT NULL,
    remote      TEXT,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
INSERT INTO audit_log_v5 SELECT seq, ts_ms, actor_id, actor_name, action, workspace, key,
    version, outcome, remote, prev_hash, hash FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v5 RENAME TO audit_log;
CREATE INDEX audit_log_key ON audit_log (key);

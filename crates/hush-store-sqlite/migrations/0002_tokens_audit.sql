-- hush schema, version 2: API tokens (hashes only) and the hash-chained audit log.

CREATE TABLE tokens (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id),
    name          TEXT    NOT NULL,
    hash          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'write', 'read', 'machine')),
    app           TEXT,
    env           TEXT,
    expires_at    INTEGER,
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE audit_log (
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
    prev_hash   TEXT    NOT NULL UNIQUE,
    hash        TEXT    NOT NULL
);

CREATE INDEX audit_log_key ON audit_log (key);

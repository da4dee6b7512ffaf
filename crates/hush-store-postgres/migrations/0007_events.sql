-- Change events (issue 17): one per audit row that changed something, written in the same
-- transaction and numbered by that row's seq. Kept 48 hours; not copied by `hush migrate`.
CREATE TABLE events (
    seq       BIGINT PRIMARY KEY,
    ts_ms     BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    workspace TEXT,
    key       TEXT,
    version   BIGINT,
    env       TEXT,
    detail    TEXT
);
CREATE INDEX events_ts ON events (ts_ms);

-- Which expiry notices were given (`expiring` once per secret per window, `expired` once per
-- expiry), so that several nodes give each once.
CREATE TABLE expiry_notices (
    secret_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (secret_id, kind, expires_at)
);

-- The expiry sweep looks only at secrets with an expiry.
CREATE INDEX secrets_expires ON secrets (expires_at) WHERE expires_at IS NOT NULL;

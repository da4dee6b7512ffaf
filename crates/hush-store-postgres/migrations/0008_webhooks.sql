-- Webhooks (issue 17): endpoints an admin registers to be POSTed a workspace's change events.
-- The signing secret is sealed with the workspace's data key (never plaintext). Copied by
-- `hush migrate`.
CREATE TABLE webhooks (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id),
    url           TEXT    NOT NULL,
    events        TEXT    NOT NULL,   -- comma-separated event types
    sealed_secret BYTEA   NOT NULL,
    after_seq     BIGINT NOT NULL,   -- the newest event when registered
    created_at    BIGINT NOT NULL,
    created_by    TEXT    NOT NULL
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id);

-- One row per (webhook, event): every node may queue it, the UNIQUE keeps one, and a node
-- claims it (lease) before each attempt, so each event is POSTed once across nodes. Never a
-- value: the body is the event. Bookkeeping: not copied by `hush migrate`.
CREATE TABLE webhook_deliveries (
    id              TEXT    PRIMARY KEY,
    webhook_id      TEXT    NOT NULL,
    event_seq       BIGINT NOT NULL,
    event_kind      TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    event_ms        BIGINT NOT NULL,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL,  -- pending, delivered, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_ms    BIGINT,
    created_ms      BIGINT NOT NULL,
    lease           TEXT,
    lease_until_ms  BIGINT,
    UNIQUE (webhook_id, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_ms);

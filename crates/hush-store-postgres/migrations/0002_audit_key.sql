-- hush on PostgreSQL, schema version 2: the keyed audit chain. Each row's link is now
-- HMAC-SHA256 under the store's audit key (stored here wrapped by the root key); the columns are
-- renamed to say so, which also makes a node of a hush from before this version fail to append
-- (and so to write anything) rather than write rows no one could verify: upgrade every node.
-- Rows written before keep their SHA-256 links as they are: the audit key is bound to the first
-- sequence number it authenticates (keyed_from), and rows before it are checked as plain hashes.

ALTER TABLE audit_log RENAME COLUMN prev_hash TO prev_mac;
ALTER TABLE audit_log RENAME COLUMN hash TO mac;
ALTER TABLE audit_head RENAME COLUMN hash TO mac;

CREATE TABLE audit_key (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    root_version  INTEGER NOT NULL REFERENCES root_keys (version),
    wrapped       BYTEA   NOT NULL,
    keyed_from    BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL
);

-- hush schema, version 8 (issue 18): audit retention and request ids.
--
-- `audit_checkpoint` records where the chain starts once older rows were pruned: the last
-- removed row's sequence number and MAC (the first kept row links to it), with a tag
-- (HMAC-SHA256 under the audit key) so that no one without the key can move it. One row, or
-- none while the chain starts at row 1.
CREATE TABLE audit_checkpoint (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    seq           INTEGER NOT NULL,
    mac           TEXT    NOT NULL,
    tag           TEXT    NOT NULL,
    pruned_at_ms  INTEGER NOT NULL
);

-- The id of the HTTP request that wrote a row (NULL: the CLI on the embedded store, and rows
-- from before), and what else a row records in words (NULL: nothing, e.g. every row before).
ALTER TABLE audit_log ADD COLUMN request_id TEXT;
ALTER TABLE audit_log ADD COLUMN detail TEXT;

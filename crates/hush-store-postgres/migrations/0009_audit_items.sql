-- hush schema, version 9 (issue 19): one audit row per request. A resolve writes one row
-- naming every key it gave out or refused (`items`, a JSON array of {key, version, env,
-- outcome, detail}, kept as text: the row's MAC covers it) instead of a row per key.
-- `audit_keys` indexes those keys so that `hush audit --key K` still finds the row (rows about
-- one key keep using `audit_log.key`).
ALTER TABLE audit_log ADD COLUMN items TEXT;

CREATE TABLE audit_keys (
    key TEXT   NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (key, seq)
);

-- hush schema, version 14 (issue 19): the audit log keeps no index by key. `hush audit --key K`
-- reads the log in order and matches each row's own `key` and `items` (both covered by the
-- row's MAC): the `audit_log_key` index was never used by that query (its `?1 IS NULL OR`
-- filter cannot use an index), and both it and `audit_keys` put every row's keys at random
-- places of a B-tree, a page written per key read once the store holds many keys.
DROP INDEX IF EXISTS audit_log_key;
DROP TABLE IF EXISTS audit_keys;

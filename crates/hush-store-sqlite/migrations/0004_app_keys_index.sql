-- hush schema, version 4: the in-use check (which apps name this key?) is answered from the
-- index alone.

DROP INDEX app_keys_by_key;
CREATE INDEX app_keys_by_key ON app_keys (workspace_id, key, app);

-- Values per environment (issue 16): a secret keeps its shared value and, on top, values of
-- its own for named environments. `env_versions` is the JSON object {env: current version};
-- a value row's `env` is '' for the shared value, and the primary key gains `env`.

ALTER TABLE secrets ADD COLUMN env_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE secret_values ADD COLUMN env TEXT NOT NULL DEFAULT '';
ALTER TABLE secret_values DROP CONSTRAINT secret_values_pkey;
ALTER TABLE secret_values ADD PRIMARY KEY (secret_id, env, version);

-- Audit rows name the environment whose own value they read or wrote (NULL: the shared value).
ALTER TABLE audit_log ADD COLUMN env TEXT;

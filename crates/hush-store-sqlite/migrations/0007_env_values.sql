-- Values per environment (issue 16): a secret keeps its shared value and, on top, values of
-- its own for named environments. `env_versions` is the JSON object {env: current version};
-- a value row's `env` is '' for the shared value. The primary key gains `env`, so the table
-- is rebuilt (SQLite cannot change a primary key in place); every row is kept as shared.

ALTER TABLE secrets ADD COLUMN env_versions TEXT NOT NULL DEFAULT '{}';

CREATE TABLE secret_values_env (
    secret_id    TEXT    NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    env          TEXT    NOT NULL DEFAULT '',
    version      INTEGER NOT NULL,
    key_version  INTEGER NOT NULL,
    ciphertext   BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    PRIMARY KEY (secret_id, env, version)
);

INSERT INTO secret_values_env (secret_id, env, version, key_version, ciphertext, created_at, created_by)
    SELECT secret_id, '', version, key_version, ciphertext, created_at, created_by FROM secret_values;

DROP TABLE secret_values;

ALTER TABLE secret_values_env RENAME TO secret_values;

-- Audit rows name the environment whose own value they read or wrote (NULL: the shared value).
ALTER TABLE audit_log ADD COLUMN env TEXT;

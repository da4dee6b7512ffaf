-- hush on PostgreSQL, schema version 1: the same model as the SQLite store. Values are stored
-- only as ciphertexts, keys only wrapped.

CREATE TABLE root_keys (
    version      INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('raw', 'passphrase')),
    salt         BYTEA,
    kdf_m_kib    BIGINT,
    kdf_t        BIGINT,
    kdf_p        BIGINT,
    check_value  BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL
);

CREATE TABLE workspaces (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE data_keys (
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id),
    version       INTEGER NOT NULL,
    root_version  INTEGER NOT NULL REFERENCES root_keys (version),
    wrapped       BYTEA   NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (workspace_id, version)
);

CREATE TABLE secrets (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id),
    key           TEXT    COLLATE "C" NOT NULL,
    description   TEXT,
    token_type    TEXT    CHECK (token_type IN ('api', 'access')),
    scope         TEXT[]  NOT NULL DEFAULT '{}',
    envs          TEXT[]  NOT NULL DEFAULT '{}',
    expires_at    BIGINT,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    version       BIGINT  NOT NULL,
    revision      BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    created_by    TEXT    NOT NULL,
    updated_by    TEXT    NOT NULL,
    UNIQUE (workspace_id, key)
);

CREATE TABLE secret_values (
    secret_id    TEXT    NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version      BIGINT  NOT NULL,
    key_version  INTEGER NOT NULL,
    ciphertext   BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE tokens (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id),
    name          TEXT    NOT NULL,
    hash          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'write', 'read', 'machine')),
    app           TEXT,
    env           TEXT,
    expires_at    BIGINT,
    created_at    BIGINT  NOT NULL,
    created_by    TEXT    NOT NULL,
    revoked_at    BIGINT
);

-- The audit chain. audit_head is one row, locked by every appending transaction, so appends
-- from any number of nodes are serialised by the database and the chain cannot fork (the
-- unique prev_hash would refuse a fork anyway).
CREATE TABLE audit_log (
    seq         BIGINT  PRIMARY KEY,
    ts_ms       BIGINT  NOT NULL,
    actor_id    TEXT    NOT NULL,
    actor_name  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    workspace   TEXT,
    key         TEXT,
    version     BIGINT,
    outcome     TEXT    NOT NULL,
    remote      TEXT,
    prev_hash   TEXT    NOT NULL UNIQUE,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_key ON audit_log (key);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT  NOT NULL,
    hash  TEXT    NOT NULL
);

CREATE TABLE apps (
    workspace_id   TEXT    NOT NULL REFERENCES workspaces (id),
    name           TEXT    NOT NULL,
    manifest       TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    registered_by  TEXT    NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE app_keys (
    workspace_id  TEXT    NOT NULL,
    app           TEXT    NOT NULL,
    key           TEXT    COLLATE "C" NOT NULL,
    last_read_at  BIGINT,
    PRIMARY KEY (workspace_id, app, key),
    FOREIGN KEY (workspace_id, app) REFERENCES apps (workspace_id, name) ON DELETE CASCADE
);
CREATE INDEX app_keys_by_key ON app_keys (workspace_id, key, app);

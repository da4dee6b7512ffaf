-- hush schema, version 1. Values are stored only as ciphertexts; keys only wrapped.

CREATE TABLE root_keys (
    version      INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('raw', 'passphrase')),
    salt         BLOB,
    kdf_m_kib    INTEGER,
    kdf_t        INTEGER,
    kdf_p        INTEGER,
    check_value  BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE workspaces (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE data_keys (
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id),
    version       INTEGER NOT NULL,
    root_version  INTEGER NOT NULL REFERENCES root_keys (version),
    wrapped       BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, version)
);

CREATE TABLE secrets (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id),
    key           TEXT    NOT NULL,
    description   TEXT,
    token_type    TEXT    CHECK (token_type IN ('api', 'access')),
    scope         TEXT    NOT NULL DEFAULT '[]',
    envs          TEXT    NOT NULL DEFAULT '[]',
    expires_at    INTEGER,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    version       INTEGER NOT NULL,
    revision      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    updated_by    TEXT    NOT NULL,
    UNIQUE (workspace_id, key)
);

CREATE TABLE secret_values (
    secret_id    TEXT    NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    key_version  INTEGER NOT NULL,
    ciphertext   BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    PRIMARY KEY (secret_id, version)
);

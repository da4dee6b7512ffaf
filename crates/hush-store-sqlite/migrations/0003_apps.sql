-- hush schema, version 3: registered apps (manifests) and the keys each one names, with when
-- the app last read each key. A secret whose key appears in app_keys is "in use".

CREATE TABLE apps (
    workspace_id   TEXT    NOT NULL REFERENCES workspaces (id),
    name           TEXT    NOT NULL,
    manifest       TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    registered_by  TEXT    NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE app_keys (
    workspace_id  TEXT    NOT NULL,
    app           TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    last_read_at  INTEGER,
    PRIMARY KEY (workspace_id, app, key),
    FOREIGN KEY (workspace_id, app) REFERENCES apps (workspace_id, name) ON DELETE CASCADE
);

CREATE INDEX app_keys_by_key ON app_keys (workspace_id, key);

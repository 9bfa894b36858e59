-- Organizations, their API tokens (hashed) and their SIEM connectors.
-- Portable SQL: the same file runs on SQLite (the embedded default) and PostgreSQL.

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    -- Bumped by every connector change; other instances poll it to apply changes.
    version    BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    -- SHA-256 of the token, hex; the token itself is shown once and never stored.
    token_hash TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE connectors (
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    name          TEXT NOT NULL,
    platform      TEXT NOT NULL,
    -- The connector's keys as JSON, without secret values.
    options       TEXT NOT NULL,
    -- Where its secret is ("aws:<name>" or "local:<name>"), never the value.
    secret_ref    TEXT,
    -- The secret fields held there, comma-separated ("token", "client_secret").
    secret_fields TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (org_id, name)
);

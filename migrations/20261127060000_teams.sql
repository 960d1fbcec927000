-- Teams (issue 6): local accounts, sessions, API tokens, namespace members, public namespaces
-- and the audit log. Passwords are argon2id hashes; session and token secrets are stored only
-- as SHA-256 digests (they are random 256-bit values, so a fast hash is enough).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    created       TEXT NOT NULL
);

CREATE TABLE sessions (
    secret_hash TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created     TEXT NOT NULL,
    expires     TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    -- JSON array of namespace names, or NULL for every namespace of the user
    namespaces  TEXT,
    max_role    TEXT,
    expires     TEXT,
    created     TEXT NOT NULL,
    revoked     TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE members (
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role      TEXT NOT NULL,
    PRIMARY KEY (namespace, user_id)
);
CREATE INDEX members_user ON members (user_id);

ALTER TABLE namespaces ADD COLUMN public INTEGER NOT NULL DEFAULT 0;

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      TEXT NOT NULL,
    user      TEXT,
    token     TEXT,
    namespace TEXT,
    action    TEXT NOT NULL,
    remote    TEXT,
    code      INTEGER NOT NULL,
    outcome   TEXT NOT NULL
);
CREATE INDEX audit_namespace ON audit (namespace, id);
CREATE INDEX audit_time ON audit (time);

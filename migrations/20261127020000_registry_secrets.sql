-- Registry credentials of a namespace (like pull secrets). The credentials are sealed with the
-- server's key (XChaCha20-Poly1305); only the sealed bytes are stored, never the plain text.
CREATE TABLE registry_secrets (
    namespace        TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    uid              TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    created          TEXT NOT NULL,
    type             TEXT NOT NULL,
    sealed           BLOB NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- The integrated registry (/v2): what the blob store holds, the manifests stored locally
-- (pushed, or mirrored from an upstream during a pull-through), what each manifest refers to,
-- and what each repository (<namespace>/<stream>) holds besides its tags' history.

-- A blob (layer, config, or a manifest's own bytes) present in the blob store. Written after
-- the store committed the verified content, so a row always names stored content.
CREATE TABLE registry_blobs (
    digest TEXT PRIMARY KEY,
    size   INTEGER NOT NULL,
    stored TEXT NOT NULL            -- when it was written (RFC 3339)
);

-- A manifest or index whose bytes are in the blob store (under its digest).
CREATE TABLE registry_manifests (
    digest        TEXT PRIMARY KEY,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT NOT NULL DEFAULT '',   -- artifactType, else the config's media type
    subject       TEXT,                       -- the digest this manifest refers to (referrers)
    annotations   TEXT NOT NULL DEFAULT '{}', -- JSON object
    stored        TEXT NOT NULL
);
CREATE INDEX registry_manifests_subject ON registry_manifests (subject);

-- What a stored manifest refers to: its config and layers, or an index's children.
CREATE TABLE registry_manifest_refs (
    manifest   TEXT NOT NULL REFERENCES registry_manifests(digest) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    kind       TEXT NOT NULL,               -- config | layer | manifest
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (manifest, position)
);
CREATE INDEX registry_manifest_refs_digest ON registry_manifest_refs (digest);

-- What a repository holds besides the images of its tags' history: manifests pushed by digest
-- (children of an index, referrers) and blobs uploaded or mounted into it. Keyed by name, not
-- by stream id: blobs are uploaded before the push that creates the stream.
CREATE TABLE repository_contents (
    namespace TEXT NOT NULL,
    stream    TEXT NOT NULL,
    digest    TEXT NOT NULL,
    kind      TEXT NOT NULL,                -- manifest | blob
    added     TEXT NOT NULL,
    PRIMARY KEY (namespace, stream, digest)
);
CREATE INDEX repository_contents_digest ON repository_contents (digest);

-- The last pull of an image's manifest through the registry, per repository (pruning's
-- "pulled within" rule).
CREATE TABLE registry_pulls (
    namespace   TEXT NOT NULL,
    stream      TEXT NOT NULL,
    digest      TEXT NOT NULL,
    last_pulled TEXT NOT NULL,
    PRIMARY KEY (namespace, stream, digest)
);

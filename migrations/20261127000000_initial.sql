-- The image-stream store. Every mutation bumps the single global resource version
-- (resource_version_counter) inside its own transaction; objects record the version of their
-- last change, which is what optimistic concurrency (409 on a stale PUT) compares.

CREATE TABLE resource_version_counter (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    current INTEGER NOT NULL
);
INSERT INTO resource_version_counter (id, current) VALUES (1, 1);

CREATE TABLE namespaces (
    name             TEXT PRIMARY KEY,
    uid              TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    created          TEXT NOT NULL
);

CREATE TABLE image_streams (
    id                      INTEGER PRIMARY KEY,
    namespace               TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    uid                     TEXT NOT NULL,
    resource_version        INTEGER NOT NULL,
    generation              INTEGER NOT NULL,
    created                 TEXT NOT NULL,
    labels                  TEXT NOT NULL DEFAULT '{}',   -- JSON object
    annotations             TEXT NOT NULL DEFAULT '{}',   -- JSON object
    lookup_local            INTEGER NOT NULL DEFAULT 0,
    docker_image_repository TEXT NOT NULL DEFAULT '',
    -- Denormalised for the catalog: newest head time, so "last updated" sorts by index.
    last_updated            TEXT,
    UNIQUE (namespace, name)
);
CREATE INDEX image_streams_updated ON image_streams (last_updated);

CREATE TABLE spec_tags (
    stream_id        INTEGER NOT NULL REFERENCES image_streams(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    annotations      TEXT,            -- JSON object or NULL (upstream serialises null)
    from_kind        TEXT,
    from_name        TEXT,
    from_namespace   TEXT,
    reference        INTEGER NOT NULL DEFAULT 0,
    generation       INTEGER,
    import_insecure  INTEGER NOT NULL DEFAULT 0,
    import_scheduled INTEGER NOT NULL DEFAULT 0,
    import_mode      TEXT NOT NULL DEFAULT '',
    reference_policy TEXT NOT NULL DEFAULT 'Source',
    PRIMARY KEY (stream_id, name)
);

-- A status tag: exists when a tag has history or conditions.
CREATE TABLE status_tags (
    stream_id  INTEGER NOT NULL REFERENCES image_streams(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    conditions TEXT NOT NULL DEFAULT '[]',  -- JSON array of TagEventCondition
    items_null INTEGER NOT NULL DEFAULT 0,  -- upstream distinguishes items: null from []
    PRIMARY KEY (stream_id, tag)
);

-- History items. seq grows with age reversed: the head has the highest seq, so prepending a
-- new head is one INSERT and never renumbers older items.
CREATE TABLE tag_events (
    stream_id              INTEGER NOT NULL REFERENCES image_streams(id) ON DELETE CASCADE,
    tag                    TEXT NOT NULL,
    seq                    INTEGER NOT NULL,
    created                TEXT NOT NULL,
    docker_image_reference TEXT NOT NULL,
    image                  TEXT NOT NULL,
    generation             INTEGER NOT NULL,
    PRIMARY KEY (stream_id, tag, seq)
);
CREATE INDEX tag_events_image ON tag_events (image);

CREATE TABLE images (
    digest                  TEXT PRIMARY KEY,
    uid                     TEXT NOT NULL,
    resource_version        INTEGER NOT NULL,
    created                 TEXT NOT NULL,
    annotations             TEXT NOT NULL DEFAULT '{}',
    labels                  TEXT NOT NULL DEFAULT '{}',
    docker_image_reference  TEXT NOT NULL,
    manifest_media_type     TEXT NOT NULL DEFAULT '',
    metadata_version        TEXT NOT NULL DEFAULT '',
    metadata                TEXT             -- JSON DockerImageMetadata
);

CREATE TABLE image_layers (
    image      TEXT NOT NULL REFERENCES images(digest) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    PRIMARY KEY (image, position)
);

-- Children of a manifest list / OCI index.
CREATE TABLE image_manifests (
    image         TEXT NOT NULL REFERENCES images(digest) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    manifest_size INTEGER NOT NULL,
    architecture  TEXT NOT NULL,
    os            TEXT NOT NULL,
    variant       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (image, position)
);
CREATE INDEX image_manifests_child ON image_manifests (digest);

-- The watch event log: one row per stored change of an image stream, written in the same
-- transaction as the change, keyed by the resource version the change produced. Watchers replay
-- from it and follow it live; it is trimmed by age and count.
CREATE TABLE watch_events (
    resource_version INTEGER PRIMARY KEY,
    namespace        TEXT NOT NULL,
    name             TEXT NOT NULL,
    type             TEXT NOT NULL,   -- ADDED | MODIFIED | DELETED
    object           TEXT NOT NULL,   -- the ImageStream as JSON, as watchers receive it
    created          TEXT NOT NULL
);
CREATE INDEX watch_events_created ON watch_events (created);

-- Changes at or below the horizon are trimmed: a watch from an older version gets 410 Gone.
CREATE TABLE watch_horizon (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    horizon INTEGER NOT NULL
);
INSERT INTO watch_horizon (id, horizon) VALUES (1, 0);

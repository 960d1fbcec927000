-- The watch event log records what changed, not the whole stream (issue 18, point 6): a change
-- of a stream keeps its version, names and type, and the stream is rendered from the stored rows
-- when a watcher needs it (once, shared by every watcher). Only a DELETED event keeps the
-- stream's last state, since nothing else holds it afterwards. Rows from before this migration
-- keep their objects; they are still sent as they are.
CREATE TABLE watch_events_v2 (
    resource_version INTEGER PRIMARY KEY,
    namespace        TEXT NOT NULL,
    name             TEXT NOT NULL,
    type             TEXT NOT NULL,   -- ADDED | MODIFIED | DELETED
    object           TEXT,            -- DELETED: the stream's last state as JSON; otherwise NULL
    created          TEXT NOT NULL,
    namespace_uid    TEXT
);
INSERT INTO watch_events_v2 (resource_version, namespace, name, type, object, created, namespace_uid)
    SELECT resource_version, namespace, name, type, object, created, namespace_uid FROM watch_events;
DROP TABLE watch_events;
ALTER TABLE watch_events_v2 RENAME TO watch_events;
CREATE INDEX watch_events_created ON watch_events (created);
CREATE INDEX watch_events_namespace_uid ON watch_events (namespace_uid, resource_version);

-- Namespace identity (issue 13, point 4): watch events and audit entries carry the uid of the
-- namespace they belong to, so a namespace deleted and created again under the same name never
-- shows the old one's history to whoever owns the new one. Readers filter by uid, not by name.
ALTER TABLE watch_events ADD COLUMN namespace_uid TEXT;
ALTER TABLE audit ADD COLUMN namespace_uid TEXT;

-- Existing rows: an event at or after the current namespace's creation belongs to it; an older
-- one belongs to an earlier namespace of that name (deleted) and keeps no uid, so no watch of the
-- current namespace replays it.
UPDATE watch_events SET namespace_uid = (
    SELECT n.uid FROM namespaces n WHERE n.name = watch_events.namespace AND n.resource_version <= watch_events.resource_version
);
-- Audit entries have only a time (to the second): those from the current namespace's creation on.
UPDATE audit SET namespace_uid = (
    SELECT n.uid FROM namespaces n WHERE n.name = audit.namespace AND n.created <= audit.time
) WHERE namespace IS NOT NULL;

CREATE INDEX watch_events_namespace_uid ON watch_events (namespace_uid, resource_version);
CREATE INDEX audit_namespace_uid ON audit (namespace_uid, id);

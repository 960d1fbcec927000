-- Garbage collection of the registry's blob store (issue 16 point 5): one row per run, what it
-- found and what it freed, for the admin API and the audit trail. The protocol is in
-- server/src/service/registry/gc.rs.
CREATE TABLE registry_gc_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started           TEXT NOT NULL,              -- service clock, RFC 3339
    finished          TEXT NOT NULL,
    trigger           TEXT NOT NULL,              -- schedule | api | prune
    by_user           TEXT,                       -- who asked (api, prune); NULL for the schedule
    dry_run           INTEGER NOT NULL,
    manifests_deleted INTEGER NOT NULL,
    blobs_deleted     INTEGER NOT NULL,
    bytes_freed       INTEGER NOT NULL,
    kept_in_use       INTEGER NOT NULL,           -- candidates a final check found live again
    failures          INTEGER NOT NULL            -- objects the blob store failed to delete
);

-- The candidate query looks blobs up by age; the final check looks up a digest's holders in
-- repositories (repository_contents_digest exists) and in manifests (registry_manifest_refs_digest).
CREATE INDEX registry_blobs_stored ON registry_blobs (stored);

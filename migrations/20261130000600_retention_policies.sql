-- Team retention policies (issue 16, point 4): one policy per namespace, and the record of
-- every run (scheduled or manual) with its counts and its full report. Both go with their
-- namespace (ON DELETE CASCADE): a namespace created again under the same name starts without
-- the old one's policy or runs.
CREATE TABLE retention_policies (
    namespace          TEXT PRIMARY KEY REFERENCES namespaces(name) ON DELETE CASCADE,
    -- the policy as the API takes it (app::domain::retention::RetentionPolicy, JSON)
    policy             TEXT NOT NULL,
    updated            TEXT NOT NULL,
    updated_by         TEXT NOT NULL,
    -- RFC 3339; the schedule's interval counts from here, or from `updated` before a first run
    last_scheduled_run TEXT
);

CREATE TABLE retention_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace       TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    started         TEXT NOT NULL,
    finished        TEXT,
    -- 'schedule' or 'manual'
    trigger         TEXT NOT NULL,
    -- a user name, or 'schedule'
    by_user         TEXT NOT NULL,
    -- 'running' (written before the prune starts), 'succeeded' or 'failed'
    state           TEXT NOT NULL,
    policy          TEXT NOT NULL,
    deleted_items   INTEGER NOT NULL DEFAULT 0,
    updated_streams INTEGER NOT NULL DEFAULT 0,
    deleted_images  INTEGER NOT NULL DEFAULT 0,
    -- blobs are reclaimed by the registry's garbage collection, not by the run: 0 here
    bytes_freed     INTEGER NOT NULL DEFAULT 0,
    summary         TEXT NOT NULL DEFAULT '',
    error           TEXT,
    -- the PruneReport (JSON), every decision with its reason; NULL while running
    report          TEXT
);
CREATE INDEX retention_runs_namespace ON retention_runs (namespace, id);

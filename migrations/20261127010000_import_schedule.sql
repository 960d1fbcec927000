-- When each stream with scheduled tags is next re-imported. Scheduler bookkeeping only: these
-- rows are not API objects and do not bump the resource version. Kept in the database so the
-- schedule survives restarts.
CREATE TABLE import_schedule (
    stream_id INTEGER PRIMARY KEY REFERENCES image_streams(id) ON DELETE CASCADE,
    next_due  TEXT NOT NULL
);
CREATE INDEX import_schedule_due ON import_schedule (next_due);
CREATE INDEX spec_tags_scheduled ON spec_tags (import_scheduled) WHERE import_scheduled = 1;

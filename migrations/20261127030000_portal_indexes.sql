-- Indexes of the web portal's queries: recent tag movements (dashboard), and streams by name
-- and by last update (catalog sorting).
CREATE INDEX tag_events_created ON tag_events (created);
CREATE INDEX image_streams_name ON image_streams (name);

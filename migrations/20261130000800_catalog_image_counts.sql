-- The catalog's image count per stream (count of distinct images in its history) read from an
-- index alone: 50 streams of 100 items took 7 ms through the table rows, 1.7 ms from this.
CREATE INDEX tag_events_stream_image ON tag_events (stream_id, image);

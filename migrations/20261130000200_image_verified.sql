-- Whether an image's metadata came from a registry (an import) rather than from whoever sent an
-- ImageStreamMapping first (review M4). Imports replace records that were never verified.
-- Records stored before this column existed are of unknown origin: unverified.
ALTER TABLE images ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;

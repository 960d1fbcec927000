-- The registry asks, for a blob digest, which images have it as a layer or as their config
-- (pull-through sources, HEAD sizes, the blobs-in-repository rule of pushes): without these,
-- each such question reads every layer and every image row.
CREATE INDEX image_layers_digest ON image_layers (digest);
CREATE INDEX images_config ON images (json_extract(metadata, '$.Id'));

-- Image-change webhooks: subscriptions per namespace, and the outbox of deliveries written in
-- the same transaction as the stream change that causes them. A delivery row is the queue entry
-- and its log; attempts keep every try (time, status code, latency, error).
CREATE TABLE webhooks (
    id               INTEGER PRIMARY KEY,
    namespace        TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    uid              TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    created          TEXT NOT NULL,
    url              TEXT NOT NULL,
    -- the signing secret, sealed with the server's key (XChaCha20-Poly1305)
    sealed_secret    BLOB NOT NULL,
    tags             TEXT NOT NULL,
    events           TEXT NOT NULL,
    UNIQUE (namespace, name)
);

CREATE TABLE webhook_deliveries (
    -- the order of deliveries of one subscription
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id    INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    type          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created       TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    -- unix milliseconds (real time: backoff is waited, not simulated)
    next_attempt  INTEGER NOT NULL,
    redelivery_of INTEGER
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (state, webhook_id, id);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    time        TEXT NOT NULL,
    status_code INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

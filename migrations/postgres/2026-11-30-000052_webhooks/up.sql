-- Webhooks (#19). An endpoint belongs to a partner app (a client) of one
-- collective. Its signing secret is kept as written (HMAC needs the key
-- itself); during a rotation the previous one is kept until
-- `previous_secret_expires_at`. `cursor_seq` is the last event of the
-- collective the delivery worker has turned into deliveries for it, moved by
-- a guarded UPDATE so two replicas never enqueue an event twice.
CREATE TABLE webhook_endpoints (
    id                          TEXT PRIMARY KEY NOT NULL,
    collective_id               TEXT NOT NULL REFERENCES collectives (id),
    client_id                   TEXT NOT NULL,
    url                         TEXT NOT NULL,
    event_types                 TEXT NOT NULL,
    description                 TEXT NOT NULL,
    status                      TEXT NOT NULL,
    disabled_reason             TEXT,
    secret                      TEXT NOT NULL,
    previous_secret             TEXT,
    previous_secret_expires_at  TIMESTAMP,
    cursor_seq                  BIGINT NOT NULL,
    created_by                  TEXT NOT NULL,
    created_at                  TIMESTAMP NOT NULL,
    updated_at                  TIMESTAMP NOT NULL,
    version                     BIGINT NOT NULL,
    FOREIGN KEY (collective_id, client_id) REFERENCES clients (collective_id, id)
);
CREATE INDEX webhook_endpoints_collective ON webhook_endpoints (collective_id, id);
CREATE INDEX webhook_endpoints_client ON webhook_endpoints (client_id);

-- One message for one endpoint: an event, sent until the endpoint answers
-- 2xx or the retry schedule runs out. Every try is taken by one replica
-- through a lease (`lease_owner`, `lease_until`) claimed by a guarded
-- UPDATE; a replica that dies leaves the lease to expire.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id),
    collective_id    TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    object_key       TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    lease_owner      TEXT,
    lease_until      TIMESTAMP,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_object ON webhook_deliveries (endpoint_id, object_key, event_seq);

-- The delivery log: each try, with what came back.
CREATE TABLE webhook_attempts (
    id              TEXT PRIMARY KEY NOT NULL,
    delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries (id),
    endpoint_id     TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    replica         TEXT NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    duration_ms     BIGINT NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    response_start  TEXT
);
CREATE UNIQUE INDEX webhook_attempts_once ON webhook_attempts (delivery_id, attempt);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, started_at);

-- The events outbox becomes the feed partner apps read: every event carries
-- a snapshot of its object (`data`, the public part; `private_data`, the
-- private parts apart, so they can be filtered by the reader's scopes,
-- encrypted and erased), and a per-collective number in commit order
-- (`seq`), given just before commit under the collective's row of
-- event_sequences. `seq` is NULL only inside the writing transaction.

DROP INDEX events_feed;
ALTER TABLE events RENAME COLUMN payload TO data;
ALTER TABLE events RENAME COLUMN created_at TO occurred_at;
ALTER TABLE events ADD COLUMN seq BIGINT;
ALTER TABLE events ADD COLUMN private_data TEXT;

UPDATE events SET seq = (
    SELECT COUNT(*) FROM events AS earlier
    WHERE earlier.collective_id = events.collective_id AND earlier.id <= events.id
);

CREATE UNIQUE INDEX events_feed ON events (collective_id, seq);
CREATE INDEX events_unnumbered ON events (collective_id) WHERE seq IS NULL;
CREATE INDEX events_occurred ON events (occurred_at);
CREATE INDEX events_object ON events (collective_id, object_kind, object_id);

-- The last number given to an event of the collective, and the last one
-- purged (a reader whose cursor is older has missed events).
CREATE TABLE event_sequences (
    collective_id   TEXT PRIMARY KEY NOT NULL REFERENCES collectives (id),
    last_seq        BIGINT NOT NULL,
    purged_through  BIGINT NOT NULL DEFAULT 0
);

INSERT INTO event_sequences (collective_id, last_seq, purged_through)
SELECT collective_id, MAX(seq), 0 FROM events GROUP BY collective_id;

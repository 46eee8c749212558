DROP INDEX events_unnumbered;
CREATE INDEX events_unnumbered ON events (collective_id) WHERE seq IS NULL;

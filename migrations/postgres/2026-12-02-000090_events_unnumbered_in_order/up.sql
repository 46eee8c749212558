-- The writer numbers a batch's events just before it commits, reading the
-- unnumbered ones in (collective, id) order. The partial index on
-- (collective_id) alone could not give that order, so SQLite read the whole
-- events table through its primary key on every batch instead (#23): the
-- cost of each commit grew with the number of events ever written. With
-- the order in the index, the read touches only the batch's own events.
DROP INDEX events_unnumbered;
CREATE INDEX events_unnumbered ON events (collective_id, id) WHERE seq IS NULL;

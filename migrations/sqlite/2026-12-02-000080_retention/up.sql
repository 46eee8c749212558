-- Retention (#25): the private fields of a closed request are redacted
-- once it has been closed longer than its collective keeps them.
ALTER TABLE collectives ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 365
    CHECK (retention_days BETWEEN 1 AND 36500);
-- When the request entered its closed state (paid, rejected, withdrawn,
-- cancelled, not funded), and when its private fields were redacted.
ALTER TABLE aid_requests ADD COLUMN closed_at TIMESTAMP;
ALTER TABLE aid_requests ADD COLUMN redacted_at TIMESTAMP;
-- Requests closed before this migration: a closed request does not change
-- any more, so its last change is when it closed (an erasure since then
-- only makes the period start later).
UPDATE aid_requests SET closed_at = updated_at
    WHERE state IN ('paid', 'rejected', 'withdrawn', 'cancelled', 'not_funded');
-- What the sweep looks for: closed, not yet redacted, oldest first.
CREATE INDEX aid_requests_retention ON aid_requests (collective_id, closed_at, id)
    WHERE redacted_at IS NULL AND closed_at IS NOT NULL;

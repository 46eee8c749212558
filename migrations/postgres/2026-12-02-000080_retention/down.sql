DROP INDEX aid_requests_retention;
ALTER TABLE aid_requests DROP COLUMN redacted_at;
ALTER TABLE aid_requests DROP COLUMN closed_at;
ALTER TABLE collectives DROP COLUMN retention_days;

ALTER TABLE aid_requests DROP COLUMN withdrawal_reason;

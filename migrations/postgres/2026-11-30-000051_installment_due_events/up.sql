-- Whether the pledge sweep has told partner apps that the installment fell
-- due (event pledge.installment_due), so it does so once. Installments due
-- before this migration count as told.
ALTER TABLE pledge_installments ADD COLUMN due_announced BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE pledge_installments SET due_announced = TRUE WHERE due_on <= CURRENT_DATE;

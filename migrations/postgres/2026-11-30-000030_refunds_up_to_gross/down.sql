ALTER TABLE contributions DROP COLUMN dispute_fee_minor;
ALTER TABLE contributions DROP CONSTRAINT contributions_refunded_within_gross;
ALTER TABLE contributions ADD CONSTRAINT contributions_check
    CHECK (refunded_minor <= amount_minor - fee_minor);

-- Refunds and chargebacks go up to a contribution's gross amount (a card
-- processor claws back the gross and keeps its fee), and a chargeback may
-- carry a dispute fee, which the contribution remembers.
ALTER TABLE contributions DROP CONSTRAINT contributions_check;
ALTER TABLE contributions ADD CONSTRAINT contributions_refunded_within_gross
    CHECK (refunded_minor <= amount_minor);
ALTER TABLE contributions ADD COLUMN dispute_fee_minor BIGINT NOT NULL DEFAULT 0
    CHECK (dispute_fee_minor >= 0);

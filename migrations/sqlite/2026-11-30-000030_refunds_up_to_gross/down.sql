-- Back to refunds capped at the net, without dispute fees.
CREATE TABLE contributions_new (
    collective_id       TEXT NOT NULL REFERENCES collectives (id),
    id                  TEXT NOT NULL,
    pool_id             TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
    fee_minor           BIGINT NOT NULL CHECK (fee_minor >= 0),
    refunded_minor      BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    method              TEXT NOT NULL,
    external_reference  TEXT,
    member_id           TEXT,
    donor_name          TEXT,
    donor_email         TEXT,
    anonymous           BOOLEAN NOT NULL,
    note                TEXT,
    status              TEXT NOT NULL CHECK (status IN ('received', 'partially_refunded', 'refunded', 'reversed')),
    entry_id            TEXT NOT NULL,
    recorded_by         TEXT NOT NULL,
    received_at         TIMESTAMP NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    pledge_id           TEXT,
    pledge_applied_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, pool_id, external_reference),
    CHECK (refunded_minor <= amount_minor - fee_minor)
);
INSERT INTO contributions_new (collective_id, id, pool_id, amount_minor, fee_minor, refunded_minor,
    method, external_reference, member_id, donor_name, donor_email, anonymous, note, status,
    entry_id, recorded_by, received_at, created_at, updated_at, pledge_id, pledge_applied_minor)
SELECT collective_id, id, pool_id, amount_minor, fee_minor, refunded_minor,
    method, external_reference, member_id, donor_name, donor_email, anonymous, note, status,
    entry_id, recorded_by, received_at, created_at, updated_at, pledge_id, pledge_applied_minor
FROM contributions;
DROP TABLE contributions;
ALTER TABLE contributions_new RENAME TO contributions;
CREATE INDEX contributions_pool ON contributions (pool_id, id);
CREATE INDEX contributions_id ON contributions (id);
CREATE INDEX contributions_member ON contributions (member_id, id);
CREATE INDEX contributions_pledge ON contributions (pledge_id);

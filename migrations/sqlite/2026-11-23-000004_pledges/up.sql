-- Pledges: promises to contribute, once or recurring, and the installments
-- they fall due in. Pledged money is never in the ledger: it becomes money
-- only when a contribution is received and applied to the installments.
--
-- Installments are materialised lazily, up to a horizon ahead of today; the
-- schedule itself is a pure function of the pledge, so what is not yet
-- stored is still known. (pledge_id, seq) is unique, so two replicas that
-- materialise the same installment store it once.

CREATE TABLE pledges (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    pool_id        TEXT NOT NULL,
    member_id      TEXT,
    donor_name     TEXT,
    donor_email    TEXT,
    anonymous      BOOLEAN NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    frequency      TEXT NOT NULL CHECK (frequency IN ('once', 'weekly', 'monthly')),
    installments   INTEGER NOT NULL CHECK (installments BETWEEN 1 AND 120),
    starts_on      DATE NOT NULL,
    grace_days     INTEGER NOT NULL CHECK (grace_days BETWEEN 0 AND 90),
    status         TEXT NOT NULL CHECK (status IN ('active', 'paused', 'fulfilled', 'cancelled', 'lapsed')),
    paused_on      DATE,
    note           TEXT,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX pledges_id ON pledges (id);
CREATE INDEX pledges_pool ON pledges (pool_id, id);
CREATE INDEX pledges_member ON pledges (member_id, id);
CREATE INDEX pledges_status ON pledges (status, id);

CREATE TABLE pledge_installments (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    pledge_id      TEXT NOT NULL,
    seq            INTEGER NOT NULL CHECK (seq >= 1),
    due_on         DATE NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor > 0),
    paid_minor     BIGINT NOT NULL DEFAULT 0,
    status         TEXT NOT NULL CHECK (status IN ('open', 'paid', 'waived')),
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, pledge_id, seq),
    CHECK (paid_minor >= 0 AND paid_minor <= amount_minor)
);
CREATE INDEX pledge_installments_pledge ON pledge_installments (pledge_id, seq);

-- Which contribution paid which installment; a refund or reversal adds a
-- negative row, so the history stays.
CREATE TABLE pledge_payments (
    collective_id    TEXT NOT NULL REFERENCES collectives (id),
    id               TEXT NOT NULL,
    pledge_id        TEXT NOT NULL,
    installment_id   TEXT NOT NULL,
    contribution_id  TEXT NOT NULL,
    amount_minor     BIGINT NOT NULL CHECK (amount_minor <> 0),
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX pledge_payments_pledge ON pledge_payments (pledge_id, id);
CREATE INDEX pledge_payments_contribution ON pledge_payments (contribution_id, id);

ALTER TABLE contributions ADD COLUMN pledge_id TEXT;
ALTER TABLE contributions ADD COLUMN pledge_applied_minor BIGINT NOT NULL DEFAULT 0;
CREATE INDEX contributions_member ON contributions (member_id, id);
CREATE INDEX contributions_pledge ON contributions (pledge_id);

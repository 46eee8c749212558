-- The ledger core: pools, the double-entry journal, contributions, holds,
-- disbursements, and idempotency records.
--
-- A pool's balance columns are a cache of its postings, kept in the same
-- transaction as the postings by guarded updates; `commonpot verify`
-- recomputes them. The CHECKs are the last line of defence: a pool is never
-- overdrawn, a hold never drawn past its amount.

CREATE TABLE pools (
    collective_id           TEXT NOT NULL REFERENCES collectives (id),
    id                      TEXT NOT NULL,
    name                    TEXT NOT NULL,
    description             TEXT NOT NULL,
    currency                TEXT NOT NULL,
    exponent                INTEGER NOT NULL,
    goal_minor              BIGINT,
    max_request_minor       BIGINT,
    approvals_needed        INTEGER NOT NULL,
    fast_track_limit_minor  BIGINT,
    requesters              TEXT NOT NULL CHECK (requesters IN ('members', 'coordinators')),
    public                  BOOLEAN NOT NULL,
    available_minor         BIGINT NOT NULL DEFAULT 0 CHECK (available_minor >= 0),
    held_minor              BIGINT NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
    deficit_minor           BIGINT NOT NULL DEFAULT 0 CHECK (deficit_minor >= 0),
    received_minor          BIGINT NOT NULL DEFAULT 0,
    refunded_minor          BIGINT NOT NULL DEFAULT 0,
    fees_minor              BIGINT NOT NULL DEFAULT 0,
    paid_minor              BIGINT NOT NULL DEFAULT 0,
    created_by              TEXT NOT NULL,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL,
    version                 BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX pools_id ON pools (id);

CREATE TABLE ledger_entries (
    collective_id      TEXT NOT NULL REFERENCES collectives (id),
    id                 TEXT NOT NULL,
    pool_id            TEXT NOT NULL,
    kind               TEXT NOT NULL,
    reference_kind     TEXT NOT NULL,
    reference_id       TEXT NOT NULL,
    reverses_entry_id  TEXT,
    created_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, reverses_entry_id)
);
CREATE INDEX ledger_entries_pool ON ledger_entries (pool_id, id);
CREATE INDEX ledger_entries_id ON ledger_entries (id);

CREATE TABLE ledger_postings (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    entry_id       TEXT NOT NULL,
    pool_id        TEXT NOT NULL,
    account        TEXT NOT NULL CHECK (account IN ('available', 'held', 'deficit', 'contributions_in', 'payouts_out', 'fees')),
    amount_minor   BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX ledger_postings_entry ON ledger_postings (entry_id);
CREATE INDEX ledger_postings_pool ON ledger_postings (pool_id, account);

CREATE TABLE contributions (
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
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, pool_id, external_reference),
    CHECK (refunded_minor <= amount_minor - fee_minor)
);
CREATE INDEX contributions_pool ON contributions (pool_id, id);
CREATE INDEX contributions_id ON contributions (id);

CREATE TABLE holds (
    collective_id    TEXT NOT NULL REFERENCES collectives (id),
    id               TEXT NOT NULL,
    pool_id          TEXT NOT NULL,
    parent_hold_id   TEXT,
    purpose          TEXT NOT NULL,
    reference_id     TEXT,
    amount_minor     BIGINT NOT NULL CHECK (amount_minor > 0),
    remaining_minor  BIGINT NOT NULL CHECK (remaining_minor >= 0),
    pending_minor    BIGINT NOT NULL DEFAULT 0 CHECK (pending_minor >= 0),
    paid_minor       BIGINT NOT NULL DEFAULT 0 CHECK (paid_minor >= 0),
    released_minor   BIGINT NOT NULL DEFAULT 0 CHECK (released_minor >= 0),
    split_minor      BIGINT NOT NULL DEFAULT 0 CHECK (split_minor >= 0),
    status           TEXT NOT NULL CHECK (status IN ('active', 'closed')),
    note             TEXT,
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id),
    CHECK (remaining_minor + pending_minor + paid_minor + released_minor + split_minor = amount_minor)
);
CREATE INDEX holds_pool ON holds (pool_id, id);
CREATE INDEX holds_id ON holds (id);

CREATE TABLE disbursements (
    collective_id       TEXT NOT NULL REFERENCES collectives (id),
    id                  TEXT NOT NULL,
    pool_id             TEXT NOT NULL,
    hold_id             TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'failed')),
    external_reference  TEXT,
    failure_reason      TEXT,
    entry_id            TEXT,
    created_by          TEXT NOT NULL,
    resolved_by         TEXT,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    resolved_at         TIMESTAMP,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX disbursements_hold ON disbursements (hold_id);
CREATE INDEX disbursements_id ON disbursements (id);

-- Idempotency keys belong to a caller (a person may act in several
-- collectives), not to a collective.
CREATE TABLE idempotency_keys (
    caller           TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    response_status  INTEGER NOT NULL,
    response_body    TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (caller, endpoint, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The journal is append-only.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

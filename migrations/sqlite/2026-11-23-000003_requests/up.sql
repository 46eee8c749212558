-- Aid requests and the coordinator workflow, and the events outbox.
-- Private fields (details, beneficiary contact, payout reference) live only
-- here, so they can be erased without touching the ledger.

CREATE TABLE aid_requests (
    collective_id            TEXT NOT NULL REFERENCES collectives (id),
    id                       TEXT NOT NULL,
    pool_id                  TEXT NOT NULL,
    requester_membership_id  TEXT,
    submitted_by             TEXT NOT NULL,
    beneficiary_name         TEXT,
    beneficiary_contact      TEXT,
    amount_requested_minor   BIGINT NOT NULL CHECK (amount_requested_minor > 0),
    amount_approved_minor    BIGINT,
    category                 TEXT NOT NULL,
    urgency                  TEXT NOT NULL CHECK (urgency IN ('emergency', 'standard')),
    needed_by                DATE,
    public_summary           TEXT NOT NULL,
    private_details          TEXT NOT NULL,
    payout_reference         TEXT,
    shared_project           BOOLEAN NOT NULL,
    state                    TEXT NOT NULL,
    owner_user_id            TEXT,
    rejection_reason         TEXT,
    hold_id                  TEXT,
    paid_minor               BIGINT NOT NULL DEFAULT 0,
    approval_round           INTEGER NOT NULL DEFAULT 1,
    round_id                 TEXT,
    submitted_at             TIMESTAMP,
    decided_at               TIMESTAMP,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL,
    version                  BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX aid_requests_id ON aid_requests (id);
CREATE INDEX aid_requests_queue ON aid_requests (collective_id, state, id);
CREATE INDEX aid_requests_pool ON aid_requests (pool_id, id);

CREATE TABLE request_approvals (
    collective_id     TEXT NOT NULL REFERENCES collectives (id),
    id                TEXT NOT NULL,
    request_id        TEXT NOT NULL,
    approval_round    INTEGER NOT NULL,
    approver_user_id  TEXT NOT NULL,
    amount_minor      BIGINT NOT NULL CHECK (amount_minor > 0),
    created_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, request_id, approval_round, approver_user_id)
);

CREATE TABLE request_conflicts (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    request_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    note           TEXT,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, request_id, user_id)
);

CREATE TABLE request_comments (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    author_kind    TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    visibility     TEXT NOT NULL CHECK (visibility IN ('internal', 'requester')),
    body           TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX request_comments_request ON request_comments (request_id, id);

-- The outbox: events written in the same transaction as the change, to be
-- delivered to webhooks and read from the events feed.
CREATE TABLE events (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    object_kind    TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    payload        TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX events_feed ON events (collective_id, id);

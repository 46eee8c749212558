-- Participatory budgeting: the issues a collective organises around, how
-- each member is affected by them (private), budgeting rounds with their
-- candidates, and ballots. A round's policy and ballot rules are kept as
-- JSON text; its result is stored once tallied, so reads are stable.

CREATE TABLE issues (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, name)
);
CREATE INDEX issues_id ON issues (id);

CREATE TABLE affectedness (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    membership_id  TEXT NOT NULL,
    issue_id       TEXT NOT NULL,
    tier           TEXT NOT NULL CHECK (tier IN ('direct', 'indirect', 'supporter')),
    verified_by    TEXT,
    verified_at    TIMESTAMP,
    declared_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, membership_id, issue_id)
);

CREATE TABLE rounds (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    pool_id        TEXT NOT NULL,
    title          TEXT NOT NULL,
    budget_minor   BIGINT NOT NULL CHECK (budget_minor > 0),
    ballot         TEXT NOT NULL,
    rule           TEXT NOT NULL CHECK (rule IN ('mes-add1', 'mes', 'greedy')),
    policy         TEXT NOT NULL,
    phase          TEXT NOT NULL CHECK (phase IN ('draft', 'open', 'closed', 'tallied', 'enacted', 'cancelled')),
    hold_id        TEXT,
    result         TEXT,
    created_by     TEXT NOT NULL,
    opened_at      TIMESTAMP,
    closed_at      TIMESTAMP,
    tallied_at     TIMESTAMP,
    enacted_at     TIMESTAMP,
    cancelled_at   TIMESTAMP,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX rounds_id ON rounds (id);

CREATE TABLE round_candidates (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    round_id       TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    position       INTEGER NOT NULL,
    PRIMARY KEY (collective_id, round_id, request_id)
);

-- Weight and tier are fixed when the round closes; set_aside marks the
-- ballots of members no longer active (or not eligible) then.
CREATE TABLE ballots (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    round_id       TEXT NOT NULL,
    membership_id  TEXT NOT NULL,
    choices        TEXT NOT NULL,
    weight         INTEGER,
    tier           TEXT,
    set_aside      BOOLEAN NOT NULL DEFAULT FALSE,
    cast_at        TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, round_id, membership_id)
);
CREATE INDEX ballots_round ON ballots (round_id, id);

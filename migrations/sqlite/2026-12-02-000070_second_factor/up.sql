-- A second factor (#26): a TOTP authenticator (RFC 6238) per person.
--
-- The secret is sealed with the field encryption (crypto::FIELDS), bound
-- to the person's id. An enrolment is 'pending' until a first code confirms
-- it, then 'confirmed'. last_step is the last time step (unix seconds / 30)
-- a code was accepted for: a code is accepted only for a later step, so
-- each code works once.
CREATE TABLE second_factors (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    secret        TEXT NOT NULL,
    state         TEXT NOT NULL,
    last_step     BIGINT,
    created_at    TIMESTAMP NOT NULL,
    confirmed_at  TIMESTAMP
);

-- Single-use recovery codes of a confirmed second factor: only their
-- SHA-256 digests are kept.
CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users (id),
    code_hash   TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    PRIMARY KEY (user_id, code_hash)
);

-- A collective may require a second factor of its coordinators and admins.
ALTER TABLE collectives ADD COLUMN require_second_factor_for_coordinators BOOLEAN NOT NULL DEFAULT FALSE;

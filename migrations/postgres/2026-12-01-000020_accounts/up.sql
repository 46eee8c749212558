-- A person's own account (#26).
--
-- Contact details besides the email address: seen by the person (and,
-- later, by those who may read members' contacts).
CREATE TABLE user_contacts (
    user_id     TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    phone       TEXT,
    other       TEXT,
    updated_at  TIMESTAMP NOT NULL
);

-- An email change waiting to be confirmed: the new address takes effect
-- only when the single-use token is sent back. Only its digest is kept.
CREATE TABLE email_changes (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    new_email   TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TIMESTAMP NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX email_changes_user ON email_changes (user_id);

-- Password-reset links an admin of a collective issued for one of its
-- members: single use, a day long. Only the token's digest is kept.
CREATE TABLE password_resets (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id),
    token_hash     TEXT NOT NULL UNIQUE,
    issued_by      TEXT NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    used_at        TIMESTAMP,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX password_resets_user ON password_resets (user_id);

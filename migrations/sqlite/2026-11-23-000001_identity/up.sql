-- Identity and access: collectives (the tenants), users, memberships,
-- partner-app clients, refresh tokens, login throttling and the audit trail.
-- Rows that belong to a collective carry collective_id, in their keys too.

CREATE TABLE collectives (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    password_hash  TEXT,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    collective_id          TEXT NOT NULL REFERENCES collectives (id),
    id                     TEXT NOT NULL,
    user_id                TEXT NOT NULL REFERENCES users (id),
    role                   TEXT NOT NULL CHECK (role IN ('admin', 'coordinator', 'member')),
    status                 TEXT NOT NULL CHECK (status IN ('invited', 'active', 'suspended')),
    invitation_hash        TEXT UNIQUE,
    invitation_expires_at  TIMESTAMP,
    invited_by             TEXT,
    joined_at              TIMESTAMP,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    version                BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (collective_id, id),
    UNIQUE (collective_id, user_id)
);
CREATE INDEX memberships_id ON memberships (id);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE clients (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX clients_id ON clients (id);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TIMESTAMP NOT NULL,
    rotated_at  TIMESTAMP,
    revoked_at  TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE login_throttle (
    key                TEXT PRIMARY KEY NOT NULL,
    failures           INTEGER NOT NULL,
    window_started_at  TIMESTAMP NOT NULL,
    locked_until       TIMESTAMP
);

CREATE TABLE audit_records (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    id             TEXT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    actor_kind     TEXT NOT NULL CHECK (actor_kind IN ('user', 'client', 'system')),
    actor_id       TEXT NOT NULL,
    action         TEXT NOT NULL,
    object_kind    TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    details        TEXT NOT NULL,
    PRIMARY KEY (collective_id, id)
);
CREATE INDEX audit_records_object ON audit_records (collective_id, object_kind, object_id);
CREATE INDEX audit_records_actor ON audit_records (collective_id, actor_id);

-- The keys private fields are sealed with (#24): ids only, never key
-- material. A key not retired may still seal values, so a service whose
-- keyring lacks it refuses to start.
CREATE TABLE field_keys (
    id TEXT PRIMARY KEY NOT NULL,
    added_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);

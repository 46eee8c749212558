-- Which encryption keys each running service holds (#24): ids only, never
-- key material. Every `serve` writes its row at start and every 30 s, so
-- `admin rotate-key --promote` can refuse to make a key the primary while
-- a replica seen lately would not be able to open what it seals.
CREATE TABLE key_holders (
    replica TEXT PRIMARY KEY NOT NULL,
    key_ids TEXT NOT NULL,
    seen_at TIMESTAMP NOT NULL
);

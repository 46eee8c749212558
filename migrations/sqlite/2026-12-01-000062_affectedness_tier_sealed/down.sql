-- Only before tiers were sealed: the CHECK refuses sealed values.
CREATE TABLE affectedness_old (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    membership_id  TEXT NOT NULL,
    issue_id       TEXT NOT NULL,
    tier           TEXT NOT NULL CHECK (tier IN ('direct', 'indirect', 'supporter')),
    verified_by    TEXT,
    verified_at    TIMESTAMP,
    declared_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, membership_id, issue_id)
);
INSERT INTO affectedness_old (collective_id, membership_id, issue_id, tier, verified_by, verified_at, declared_at)
    SELECT collective_id, membership_id, issue_id, tier, verified_by, verified_at, declared_at FROM affectedness;
DROP TABLE affectedness;
ALTER TABLE affectedness_old RENAME TO affectedness;

-- A declaration's tier is stored sealed (#24), so the CHECK on its clear
-- values goes (the service checks tiers before sealing). SQLite cannot drop
-- a CHECK, so the table is rebuilt (nothing refers to it by foreign key).
CREATE TABLE affectedness_new (
    collective_id  TEXT NOT NULL REFERENCES collectives (id),
    membership_id  TEXT NOT NULL,
    issue_id       TEXT NOT NULL,
    tier           TEXT NOT NULL,
    verified_by    TEXT,
    verified_at    TIMESTAMP,
    declared_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (collective_id, membership_id, issue_id)
);
INSERT INTO affectedness_new (collective_id, membership_id, issue_id, tier, verified_by, verified_at, declared_at)
    SELECT collective_id, membership_id, issue_id, tier, verified_by, verified_at, declared_at FROM affectedness;
DROP TABLE affectedness;
ALTER TABLE affectedness_new RENAME TO affectedness;

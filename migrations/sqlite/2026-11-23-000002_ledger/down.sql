DROP TABLE idempotency_keys;
DROP TABLE disbursements;
DROP TABLE holds;
DROP TABLE contributions;
DROP TABLE ledger_postings;
DROP TABLE ledger_entries;
DROP TABLE pools;

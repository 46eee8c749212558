-- A round may ask a least weighted support of the candidates it funds
-- (absent: any support at all). Candidates below it are left out of the
-- tally and its export.
ALTER TABLE rounds ADD COLUMN min_support BIGINT CHECK (min_support >= 1);

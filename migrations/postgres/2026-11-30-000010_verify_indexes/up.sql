-- `commonpot verify` pages through the ledger by key and looks up, per page,
-- the children of split holds and the reversals of entries: without these
-- indexes each page would scan the whole table (quadratic in holds and
-- entries).
CREATE INDEX holds_parent ON holds (parent_hold_id);
CREATE INDEX ledger_entries_reverses ON ledger_entries (reverses_entry_id);

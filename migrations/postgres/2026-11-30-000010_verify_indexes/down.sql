DROP INDEX ledger_entries_reverses;
DROP INDEX holds_parent;

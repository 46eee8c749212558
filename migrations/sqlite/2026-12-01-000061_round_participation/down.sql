ALTER TABLE rounds DROP COLUMN participation;

ALTER TABLE collectives DROP COLUMN demo;

ALTER TABLE rounds DROP COLUMN min_support;

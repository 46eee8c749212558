ALTER TABLE pledge_installments DROP COLUMN due_announced;

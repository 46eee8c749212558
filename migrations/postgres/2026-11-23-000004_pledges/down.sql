DROP INDEX contributions_pledge;
DROP INDEX contributions_member;
ALTER TABLE contributions DROP COLUMN pledge_applied_minor;
ALTER TABLE contributions DROP COLUMN pledge_id;
DROP TABLE pledge_payments;
DROP TABLE pledge_installments;
DROP TABLE pledges;

ALTER TABLE collectives DROP COLUMN require_second_factor_for_coordinators;
DROP TABLE recovery_codes;
DROP TABLE second_factors;

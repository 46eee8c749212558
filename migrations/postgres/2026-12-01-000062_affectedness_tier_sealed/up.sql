-- A declaration's tier is stored sealed (#24), so the CHECK on its clear
-- values goes (the service checks tiers before sealing).
ALTER TABLE affectedness DROP CONSTRAINT affectedness_tier_check;

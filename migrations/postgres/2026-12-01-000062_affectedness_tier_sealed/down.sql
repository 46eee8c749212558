-- Only before tiers were sealed: the CHECK refuses sealed values.
ALTER TABLE affectedness ADD CONSTRAINT affectedness_tier_check CHECK (tier IN ('direct', 'indirect', 'supporter'));

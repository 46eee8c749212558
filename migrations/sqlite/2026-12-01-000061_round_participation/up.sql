-- Ballots stop pointing at people once a round closes (#24): closing fixes
-- the weights, keeps the participation per tier here (counts only), then
-- removes each ballot's member link and tier.
ALTER TABLE rounds ADD COLUMN participation TEXT;

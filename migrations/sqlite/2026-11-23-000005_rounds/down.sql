DROP TABLE ballots;
DROP TABLE round_candidates;
DROP TABLE rounds;
DROP TABLE affectedness;
DROP TABLE issues;

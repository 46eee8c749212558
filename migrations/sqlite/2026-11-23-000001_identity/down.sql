DROP TABLE audit_records;
DROP TABLE login_throttle;
DROP TABLE refresh_tokens;
DROP TABLE clients;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE collectives;

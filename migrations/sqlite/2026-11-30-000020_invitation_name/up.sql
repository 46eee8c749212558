-- An invitation shows the name the inviter gave, not the name of an account
-- the email may already have: until it is accepted, nothing in its answer
-- tells whether the person has an account.
ALTER TABLE memberships ADD COLUMN invited_name TEXT;
UPDATE memberships SET invited_name = (
    SELECT display_name FROM users WHERE users.id = memberships.user_id
) WHERE status = 'invited';

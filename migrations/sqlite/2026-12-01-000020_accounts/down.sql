DROP TABLE password_resets;
DROP TABLE email_changes;
DROP TABLE user_contacts;

-- Why the requester withdrew, for coordinators: private, like the details.
ALTER TABLE aid_requests ADD COLUMN withdrawal_reason TEXT;

DROP TABLE events;
DROP TABLE request_comments;
DROP TABLE request_conflicts;
DROP TABLE request_approvals;
DROP TABLE aid_requests;

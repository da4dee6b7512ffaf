-- A secret's warning window (issue 17): how many seconds before `expires_at` it is
-- `expiring` and reads of it warn. NULL: the default (14 days).

ALTER TABLE secrets ADD COLUMN notify_before INTEGER;

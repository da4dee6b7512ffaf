-- The environment an app's last read of a key was made in (issue 16): the read's own
-- environment (a machine token's bound one, or the one the request named), whether it got that
-- environment's own value or the shared value. NULL when the read named none, or never read.

ALTER TABLE app_keys ADD COLUMN last_read_env TEXT;

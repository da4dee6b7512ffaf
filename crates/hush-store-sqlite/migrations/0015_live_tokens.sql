-- hush schema, version 15: live tokens have an index of their own. A token lookup (each request
-- whose token the server has not cached, and each one past the failed-authentication
-- allowance) went through the unique index on every hash and then read the table row to see
-- `revoked_at` and `expires_at`: a revoked or expired token took one row read more than an
-- unknown one, about 1 µs that a sign test over 2,000 requests could tell apart (BENCHMARKS.md,
-- "Token timing"). A revoked token is not in this index at all, so its lookup does what an
-- unknown token's does; an expired one is refused from the index's own `expires_at` (one
-- comparison, no table row). Only a live token's row is read.
CREATE INDEX tokens_live ON tokens (hash, expires_at) WHERE revoked_at IS NULL;

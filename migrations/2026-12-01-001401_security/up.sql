-- Sessions kept on the server (issue 14): the encrypted cookie carries only a random
-- session id, and every request looks it up here, so signing out, "sign out everywhere",
-- and an admin disabling a user or changing their role or password end sessions at once.
-- Only a hash of the id is stored: a copy of this table signs nobody in.
CREATE TABLE user_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);

-- The per-user epoch the sessions table replaces.
ALTER TABLE users DROP COLUMN session_epoch;

-- Orders placed longer ago than this are refused at intake (issue 13).
ALTER TABLE shop_settings
    ADD COLUMN placed_at_max_age_days INTEGER NOT NULL DEFAULT 365
        CHECK (placed_at_max_age_days BETWEEN 1 AND 3650);

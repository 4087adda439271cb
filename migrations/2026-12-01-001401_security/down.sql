ALTER TABLE shop_settings DROP COLUMN placed_at_max_age_days;
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
DROP TABLE user_sessions;

ALTER TABLE shop_settings DROP COLUMN eta_update_window_hours;
DROP INDEX IF EXISTS messages_customer_kind_idx;
DROP TABLE eta_update_causes;
DROP TABLE eta_updates_pending;
DROP TABLE told_dates;

DROP INDEX IF EXISTS audit_log_action_day_idx;
DROP INDEX IF EXISTS order_lines_promised_idx;
ALTER TABLE order_lines DROP COLUMN IF EXISTS waiting_ended_by;

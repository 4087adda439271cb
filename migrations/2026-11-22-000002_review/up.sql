-- Why a line stopped waiting: the daily review counts lines filled and cancelled per day.
ALTER TABLE order_lines ADD COLUMN waiting_ended_by TEXT
    CHECK (waiting_ended_by IN ('filled', 'cancelled'));
CREATE INDEX order_lines_promised_idx ON order_lines (promised_on) WHERE promised_on IS NOT NULL;
CREATE INDEX audit_log_action_day_idx ON audit_log (action, created_at);

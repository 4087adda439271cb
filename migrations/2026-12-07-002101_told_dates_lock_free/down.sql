DELETE FROM told_dates t WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.id = t.order_line_id);
ALTER TABLE told_dates ADD CONSTRAINT told_dates_order_line_id_fkey
    FOREIGN KEY (order_line_id) REFERENCES order_lines (id) ON DELETE CASCADE;

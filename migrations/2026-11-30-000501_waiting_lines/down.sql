DROP INDEX IF EXISTS order_lines_waiting_delay_sort_idx;
DROP INDEX IF EXISTS order_lines_waiting_eta_sort_idx;
DROP INDEX IF EXISTS order_lines_waiting_no_eta_idx;
DROP INDEX IF EXISTS order_lines_waiting_customer_idx;
DROP INDEX IF EXISTS order_lines_waiting_promise_idx;
DROP INDEX IF EXISTS order_lines_waiting_product_idx;
DROP INDEX IF EXISTS order_lines_waiting_age_idx;
DROP TRIGGER IF EXISTS orders_copy_fields_to_lines ON orders;
DROP TRIGGER IF EXISTS order_lines_copy_order_fields ON order_lines;
DROP FUNCTION IF EXISTS orders_copy_fields_to_lines();
DROP FUNCTION IF EXISTS order_lines_copy_order_fields();
ALTER TABLE order_lines DROP COLUMN wait_limit_on, DROP COLUMN lapses_on, DROP COLUMN waiting;
CREATE INDEX order_lines_waiting_age_idx ON order_lines (placed_at, id)
    WHERE qty > allocated + shipped + cancelled;
CREATE INDEX order_lines_waiting_product_idx ON order_lines (product_id, placed_at, id)
    INCLUDE (qty, allocated, shipped, cancelled) WHERE qty > allocated + shipped + cancelled;
CREATE INDEX order_lines_waiting_promise_idx ON order_lines (promised_on)
    INCLUDE (qty, allocated, shipped, cancelled, unit_price_cents) WHERE qty > allocated + shipped + cancelled;
CREATE INDEX order_lines_waiting_customer_idx ON order_lines (customer_id)
    WHERE qty > allocated + shipped + cancelled;

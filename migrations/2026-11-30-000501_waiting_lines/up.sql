-- The queue and the review aggregate over waiting lines, a few percent of all lines.
-- `qty > allocated + shipped + cancelled` gives the planner no statistics (it guessed a
-- third of the table, and joined all orders to count 100k lines); a stored column does.
ALTER TABLE order_lines
    ADD COLUMN waiting INTEGER NOT NULL GENERATED ALWAYS AS (qty - allocated - shipped - cancelled) STORED,
    -- Copies of the order's fields that the queue's flags read, kept by the triggers
    -- below, so a count over the queue reads the lines' index alone:
    -- the payment authorization's expiry while it is still only authorized ...
    ADD COLUMN lapses_on DATE,
    -- ... and the customer's stated latest date (orders.max_wait_until).
    ADD COLUMN wait_limit_on DATE;

UPDATE order_lines l
   SET lapses_on = CASE WHEN o.payment_state = 'authorized' THEN o.payment_authorized_until END,
       wait_limit_on = o.max_wait_until
  FROM orders o
 WHERE o.id = l.order_id
   AND (o.payment_authorized_until IS NOT NULL OR o.max_wait_until IS NOT NULL);

CREATE FUNCTION order_lines_copy_order_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT CASE WHEN o.payment_state = 'authorized' THEN o.payment_authorized_until END,
           o.max_wait_until
      INTO NEW.lapses_on, NEW.wait_limit_on
      FROM orders o WHERE o.id = NEW.order_id;
    RETURN NEW;
END $$;

CREATE TRIGGER order_lines_copy_order_fields
    BEFORE INSERT OR UPDATE OF order_id ON order_lines
    FOR EACH ROW EXECUTE FUNCTION order_lines_copy_order_fields();

CREATE FUNCTION orders_copy_fields_to_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_lines
       SET lapses_on = CASE WHEN NEW.payment_state = 'authorized' THEN NEW.payment_authorized_until END,
           wait_limit_on = NEW.max_wait_until
     WHERE order_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER orders_copy_fields_to_lines
    AFTER UPDATE OF payment_state, payment_authorized_until, max_wait_until ON orders
    FOR EACH ROW
    WHEN (OLD.payment_state IS DISTINCT FROM NEW.payment_state
          OR OLD.payment_authorized_until IS DISTINCT FROM NEW.payment_authorized_until
          OR OLD.max_wait_until IS DISTINCT FROM NEW.max_wait_until)
    EXECUTE FUNCTION orders_copy_fields_to_lines();

DROP INDEX order_lines_waiting_age_idx;
DROP INDEX order_lines_waiting_product_idx;
DROP INDEX order_lines_waiting_promise_idx;
DROP INDEX order_lines_waiting_customer_idx;

-- Oldest first: the queue's default order, its deep pages, and (covering every column
-- the counts and the review's headline read) an index-only pass over the whole queue.
CREATE INDEX order_lines_waiting_age_idx ON order_lines (placed_at, id)
    INCLUDE (product_id, customer_id, waiting, unit_price_cents, promised_on, eta_worst,
             lapses_on, wait_limit_on)
    WHERE waiting > 0;
CREATE INDEX order_lines_waiting_product_idx ON order_lines (product_id, placed_at, id)
    INCLUDE (waiting, customer_id) WHERE waiting > 0;
CREATE INDEX order_lines_waiting_promise_idx ON order_lines (promised_on)
    WHERE waiting > 0;
CREATE INDEX order_lines_waiting_customer_idx ON order_lines (customer_id)
    WHERE waiting > 0;
CREATE INDEX order_lines_waiting_no_eta_idx ON order_lines (placed_at, id)
    WHERE waiting > 0 AND eta_worst IS NULL;
-- The queue's other two orders, as the page's keyset expressions.
CREATE INDEX order_lines_waiting_eta_sort_idx
    ON order_lines ((coalesce(eta_worst - DATE '2000-01-01', 999999)::int8), id) WHERE waiting > 0;
CREATE INDEX order_lines_waiting_delay_sort_idx
    ON order_lines (((-greatest(coalesce(eta_worst - promised_on, 0), 0))::int8), id) WHERE waiting > 0;

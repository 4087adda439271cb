-- What each customer was told (issue 13): a customer hears of a new date for a line only
-- when it is later than the last date an email stated for that line, and ETA-change
-- emails are coalesced per order.

-- Every date an email stated for a waiting line, appended when the email is queued. The
-- last row of a line is what the customer was last told. Append-only on purpose: an event
-- holds the locks of its own products only, and updating rows of another product's lines
-- (an email states every line of the order) deadlocked with events on that product.
CREATE TABLE told_dates (
    id BIGSERIAL PRIMARY KEY,
    order_line_id BIGINT NOT NULL REFERENCES order_lines (id) ON DELETE CASCADE,
    told_on DATE NOT NULL,
    message_id BIGINT REFERENCES messages (id) ON DELETE SET NULL,
    told_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX told_dates_line_idx ON told_dates (order_line_id, id DESC);

-- An order whose dates moved later than told: one ETA-change email goes out when it is
-- due (first change + the shop's window), rendered then from the state at that time.
CREATE TABLE eta_updates_pending (
    order_id BIGINT PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    first_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    due_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX eta_updates_pending_due_idx ON eta_updates_pending (due_at);

-- Why each line of a pending order moved later: the cause of its latest move later.
CREATE TABLE eta_update_causes (
    order_line_id BIGINT PRIMARY KEY REFERENCES order_lines (id) ON DELETE CASCADE,
    order_id BIGINT NOT NULL REFERENCES eta_updates_pending (order_id) ON DELETE CASCADE,
    cause TEXT NOT NULL CHECK (cause IN ('supplier_date', 'po_cancelled', 'queue_ahead',
        'receipt_short', 'stock', 'schedule', 'supply', 'delivery_late', 'supplier_record')),
    reference TEXT,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX eta_update_causes_order_idx ON eta_update_causes (order_id);
-- A customer's last date-change email (one per customer per window, too).
CREATE INDEX messages_customer_kind_idx ON messages (customer_id, kind, created_at)
    WHERE customer_id IS NOT NULL;

ALTER TABLE shop_settings
    ADD COLUMN eta_update_window_hours INTEGER NOT NULL DEFAULT 24
        CHECK (eta_update_window_hours BETWEEN 1 AND 168);

-- What existing customers were told: the promise (the backorder notice's date), then the
-- date of each delay notice (`delay:{line}:{date}`), in the order they were queued.
INSERT INTO told_dates (order_line_id, told_on, message_id, told_at)
SELECT l.id, l.promised_on, NULL, l.created_at
  FROM order_lines l
 WHERE l.promised_on IS NOT NULL;
INSERT INTO told_dates (order_line_id, told_on, message_id, told_at)
SELECT split_part(m.idempotency_key, ':', 2)::int8, split_part(m.idempotency_key, ':', 3)::date,
       m.id, m.created_at
  FROM messages m
  JOIN order_lines l ON l.id = split_part(m.idempotency_key, ':', 2)::int8
 WHERE m.kind = 'delay_notice' AND m.idempotency_key ~ '^delay:[0-9]+:[0-9]{4}-[0-9]{2}-[0-9]{2}$'
 ORDER BY m.id;

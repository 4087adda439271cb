-- Alternatives (issue 18, part 1): other SKUs a customer may take instead of waiting, in
-- order of preference, and the swaps customers (or reps for them) took.
CREATE TABLE product_alternatives (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    alternative_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    PRIMARY KEY (product_id, alternative_id),
    UNIQUE (product_id, position) DEFERRABLE INITIALLY DEFERRED,
    CHECK (product_id <> alternative_id)
);
CREATE INDEX product_alternatives_alternative ON product_alternatives (alternative_id);

-- A swap: the waiting units of one line moved to a new line of the alternative. The price
-- difference is (new unit price - old) x units: above zero the rep settles it with the
-- customer, below zero it is a credit owed. Nothing is charged automatically.
CREATE TABLE swaps (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id),
    from_line_id BIGINT NOT NULL REFERENCES order_lines (id),
    to_line_id BIGINT NOT NULL REFERENCES order_lines (id),
    units INTEGER NOT NULL CHECK (units > 0),
    price_difference_cents BIGINT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('link', 'rep')),
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX swaps_order ON swaps (order_id);
CREATE INDEX swaps_created_at ON swaps (created_at);

ALTER TABLE order_lines DROP CONSTRAINT IF EXISTS order_lines_waiting_ended_by_check;
ALTER TABLE order_lines ADD CONSTRAINT order_lines_waiting_ended_by_check
    CHECK (waiting_ended_by IN ('filled', 'cancelled', 'swapped'));

ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('backorder_notice', 'delay_notice', 'restock', 'shipment', 'discount_offer',
                    'cancellation', 'back_in_stock', 'status_update', 'custom', 'swap_confirmation'));

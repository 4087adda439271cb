-- Suppliers in the loop (issue 18, part 5): a purchase order emailed to the supplier's
-- contact address (suppliers.email) with a CSV attachment and a link with which the
-- supplier confirms the expected date or gives a new one.

-- The outbox carries one optional attachment per message (the purchase order's CSV).
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check CHECK (kind IN ('backorder_notice',
    'delay_notice', 'restock', 'shipment', 'discount_offer', 'cancellation', 'back_in_stock',
    'status_update', 'custom', 'swap_confirmation', 'purchase_order'));
ALTER TABLE messages ADD COLUMN attachment_name TEXT;
ALTER TABLE messages ADD COLUMN attachment_type TEXT;
ALTER TABLE messages ADD COLUMN attachment_body TEXT;

-- Each time a purchase order was emailed: to whom, by whom, and the hash of the link's
-- token (the token itself is only in the email). A link works while its order is open.
CREATE TABLE purchase_order_sends (
    id BIGSERIAL PRIMARY KEY,
    purchase_order_id BIGINT NOT NULL REFERENCES purchase_orders (id) ON DELETE CASCADE,
    sent_to TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    message_id BIGINT REFERENCES messages (id) ON DELETE SET NULL,
    sent_by BIGINT REFERENCES users (id),
    sent_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX purchase_order_sends_po_idx ON purchase_order_sends (purchase_order_id, id);

-- What a supplier answered through the link: the date confirmed as it was, or a new one.
CREATE TABLE supplier_answers (
    id BIGSERIAL PRIMARY KEY,
    purchase_order_id BIGINT NOT NULL REFERENCES purchase_orders (id) ON DELETE CASCADE,
    send_id BIGINT NOT NULL REFERENCES purchase_order_sends (id) ON DELETE CASCADE,
    answer TEXT NOT NULL CHECK (answer IN ('confirmed', 'new_date')),
    expected_on DATE NOT NULL,
    note TEXT CHECK (char_length(note) <= 1000),
    answered_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX supplier_answers_po_idx ON supplier_answers (purchase_order_id, id);

-- Who moved a date: a buyer (changed_by) or the supplier through its link, with its note.
ALTER TABLE purchase_order_date_changes ADD COLUMN by_supplier BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE purchase_order_date_changes ADD COLUMN note TEXT;

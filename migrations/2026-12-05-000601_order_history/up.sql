-- The order page's timeline and the Messages search (issue 16).
-- An order's allocations, found by its lines (3 million ledger rows at benchmark size).
CREATE INDEX stock_movements_order_line_idx ON stock_movements (order_line_id)
    WHERE order_line_id IS NOT NULL;
-- What caused an ETA change: the rows written in the same transaction share its
-- timestamp, so each cause is found by that instant.
CREATE INDEX purchase_order_date_changes_at_idx ON purchase_order_date_changes (changed_at);
CREATE INDEX purchase_order_receipts_at_idx ON purchase_order_receipts (created_at);
CREATE INDEX purchase_orders_created_idx ON purchase_orders (created_at);
-- Messages by recipient: an email in any case, or its start.
CREATE INDEX messages_recipient_idx ON messages (lower(recipient) text_pattern_ops, id);

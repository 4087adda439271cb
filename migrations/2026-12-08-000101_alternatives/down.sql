ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('backorder_notice', 'delay_notice', 'restock', 'shipment', 'discount_offer',
                    'cancellation', 'back_in_stock', 'status_update', 'custom'));
ALTER TABLE order_lines DROP CONSTRAINT IF EXISTS order_lines_waiting_ended_by_check;
ALTER TABLE order_lines ADD CONSTRAINT order_lines_waiting_ended_by_check
    CHECK (waiting_ended_by IN ('filled', 'cancelled'));
DROP TABLE swaps;
DROP TABLE product_alternatives;

ALTER TABLE purchase_order_date_changes DROP COLUMN note;
ALTER TABLE purchase_order_date_changes DROP COLUMN by_supplier;
DROP TABLE supplier_answers;
DROP TABLE purchase_order_sends;
DELETE FROM messages WHERE kind = 'purchase_order';
ALTER TABLE messages DROP COLUMN attachment_body;
ALTER TABLE messages DROP COLUMN attachment_type;
ALTER TABLE messages DROP COLUMN attachment_name;
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check CHECK (kind IN ('backorder_notice',
    'delay_notice', 'restock', 'shipment', 'discount_offer', 'cancellation', 'back_in_stock',
    'status_update', 'custom', 'swap_confirmation'));

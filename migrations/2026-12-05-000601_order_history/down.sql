DROP INDEX IF EXISTS stock_movements_order_line_idx;
DROP INDEX IF EXISTS purchase_order_date_changes_at_idx;
DROP INDEX IF EXISTS purchase_order_receipts_at_idx;
DROP INDEX IF EXISTS purchase_orders_created_idx;
DROP INDEX IF EXISTS messages_recipient_idx;

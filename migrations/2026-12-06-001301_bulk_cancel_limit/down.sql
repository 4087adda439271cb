ALTER TABLE shop_settings DROP COLUMN bulk_cancel_max_lines;

DROP INDEX IF EXISTS restock_subscriptions_open_idx;
DROP INDEX IF EXISTS products_supplier_sku_idx;
DROP INDEX IF EXISTS products_waiting_units_sort_idx;
DROP INDEX IF EXISTS products_on_hand_sort_idx;
DROP INDEX IF EXISTS products_available_sort_idx;
DROP INDEX IF EXISTS products_name_sort_idx;

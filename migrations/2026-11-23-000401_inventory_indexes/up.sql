-- The inventory page sorts 50,000 products by these columns and pages by (key, id), so
-- each sort walks an index instead of sorting the table (PERFORMANCE.md: keyset pages).
CREATE INDEX products_name_sort_idx ON products (name, id);
CREATE INDEX products_available_sort_idx ON products ((on_hand - allocated), id);
CREATE INDEX products_on_hand_sort_idx ON products (on_hand, id);
CREATE INDEX products_waiting_units_sort_idx ON products (waiting_units, id);
-- A supplier filter keeps the default SKU order without a sort.
CREATE INDEX products_supplier_sku_idx ON products (supplier_id, sku);
-- "Notify me" sign-ups still waiting: soft demand for reorder suggestions.
CREATE INDEX restock_subscriptions_open_idx ON restock_subscriptions (product_id)
    WHERE notified_at IS NULL AND unsubscribed_at IS NULL;

-- Inventory search: SKU or name substring (trigram indexes), first page by SKU.
SELECT id, sku, name, on_hand, allocated, waiting_units, waiting_lines FROM products
WHERE lower(sku) LIKE '%' || ':inventory_q' || '%' OR lower(name) LIKE '%' || ':inventory_q' || '%'
ORDER BY sku LIMIT 50;

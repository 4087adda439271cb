-- Inventory search (services::inventory::product_page): SKU or name fragment, first page
-- by SKU, then the page's incoming units.
WITH shown AS (SELECT p.id FROM products p LEFT JOIN suppliers s ON s.id = p.supplier_id
               WHERE lower(p.sku) LIKE '%:inventory_q%' OR lower(p.name) LIKE '%:inventory_q%'
               ORDER BY p.sku, p.id LIMIT 51)
SELECT p.id, p.sku, p.name, s.name, p.on_hand, p.allocated, p.waiting_units, p.waiting_lines,
       inc.units, inc.next_arrival
FROM shown JOIN products p ON p.id = shown.id LEFT JOIN suppliers s ON s.id = p.supplier_id
LEFT JOIN LATERAL (
    SELECT sum(pl.qty_ordered - pl.qty_received) AS units, min(po.expected_on) AS next_arrival
    FROM purchase_order_lines pl JOIN purchase_orders po ON po.id = pl.purchase_order_id
    WHERE pl.product_id = p.id AND pl.qty_received < pl.qty_ordered AND po.status = 'open') inc ON true
ORDER BY p.sku, p.id;

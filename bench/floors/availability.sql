-- Availability API: the product's stock and waiting counters and its incoming units.
SELECT p.id, p.on_hand, p.allocated, p.waiting_units, p.waiting_lines, s.lead_time_days
FROM products p LEFT JOIN suppliers s ON s.id = p.supplier_id WHERE p.sku = ':sku';
SELECT po.reference, po.expected_on, l.qty_ordered - l.qty_received FROM purchase_order_lines l
JOIN purchase_orders po ON po.id = l.purchase_order_id JOIN products p ON p.id = l.product_id
WHERE p.sku = ':sku' AND l.qty_received < l.qty_ordered AND po.status = 'open' ORDER BY po.expected_on;

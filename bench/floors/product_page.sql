-- Product page: the product, its incoming purchase order lines, the front of its waiting
-- queue (300 lines, oldest first) and the whole queue's totals.
SELECT p.*, s.name FROM products p LEFT JOIN suppliers s ON s.id = p.supplier_id WHERE p.sku = ':sku';
SELECT po.reference, po.expected_on, l.qty_ordered - l.qty_received FROM purchase_order_lines l
JOIN purchase_orders po ON po.id = l.purchase_order_id JOIN products p ON p.id = l.product_id
WHERE p.sku = ':sku' AND l.qty_received < l.qty_ordered AND po.status = 'open' ORDER BY po.expected_on;
SELECT l.id, o.number, c.name, l.queue_position, l.eta_worst, l.promised_on FROM order_lines l
JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = l.customer_id JOIN products p ON p.id = l.product_id
WHERE p.sku = ':sku' AND l.waiting > 0 ORDER BY l.placed_at, l.id LIMIT 300;
SELECT count(*), sum(l.waiting), max(coalesce(l.eta_likely, l.eta_worst)) FROM order_lines l
JOIN products p ON p.id = l.product_id WHERE p.sku = ':sku' AND l.waiting > 0;

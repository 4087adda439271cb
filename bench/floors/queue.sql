-- Queue, first page: oldest waiting lines with their order, customer and product.
SELECT l.id, o.number, c.name, c.email, p.sku, p.name, l.qty - l.allocated - l.shipped - l.cancelled,
       l.placed_at, l.queue_position, l.eta_likely, l.eta_worst, l.promised_on
FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = l.customer_id
JOIN products p ON p.id = l.product_id
WHERE l.qty > l.allocated + l.shipped + l.cancelled
ORDER BY l.placed_at, l.id LIMIT 51;

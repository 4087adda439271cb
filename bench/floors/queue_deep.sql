-- A deep queue page by its keyset cursor (about 2,000 lines in).
SELECT l.id, o.number, c.name, c.email, c.tier, p.sku, p.name, l.waiting, l.placed_at,
       l.queue_position, l.eta_likely, l.eta_worst, l.promised_on
FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = l.customer_id
JOIN products p ON p.id = l.product_id
WHERE l.waiting > 0
  AND (l.placed_at, l.id) > (to_timestamp(:after_epoch), :after_id)
ORDER BY l.placed_at, l.id LIMIT 51;

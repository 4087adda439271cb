-- Queue sorted by delay (ETA past the promise), largest first.
SELECT l.id, o.number, c.name, p.sku, greatest(coalesce(l.eta_worst - l.promised_on, 0), 0) AS delay
FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = l.customer_id
JOIN products p ON p.id = l.product_id
WHERE l.qty > l.allocated + l.shipped + l.cancelled
ORDER BY delay DESC, l.id LIMIT 51;

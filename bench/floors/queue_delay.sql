-- Queue sorted by delay (ETA past the promise), largest first: the page's keyset
-- expression, which order_lines_waiting_delay_sort_idx serves.
SELECT l.id, o.number, c.name, c.email, p.sku, p.name, l.waiting, l.eta_worst, l.promised_on
FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = l.customer_id
JOIN products p ON p.id = l.product_id
WHERE l.waiting > 0
ORDER BY (-greatest(coalesce(l.eta_worst - l.promised_on, 0), 0))::int8, l.id LIMIT 51;

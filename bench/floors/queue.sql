-- Queue, first page: the page's own query (services::backorders::page), oldest first.
-- The filter counts above the table are shared between requests (web::recent) and
-- counted at most every FIGURES_MAX_AGE_MS; see review.sql for what such a count costs.
SELECT l.id, (extract(epoch FROM l.placed_at) * 1000000)::int8, o.number, c.name, c.email, c.tier,
       p.sku, p.name, l.waiting, l.placed_at, l.queue_position, l.eta_likely, l.eta_worst,
       l.eta_is_estimate, l.promised_on, greatest(coalesce(l.eta_worst - l.promised_on, 0), 0),
       l.waiting * l.unit_price_cents, l.promised_on < current_date,
       l.lapses_on IS NOT NULL AND (l.eta_worst IS NULL OR l.lapses_on < l.eta_worst),
       l.placed_at < (current_date - 30)::timestamptz
FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN customers c ON c.id = l.customer_id
JOIN products p ON p.id = l.product_id
WHERE l.waiting > 0
ORDER BY l.placed_at, l.id LIMIT 51;

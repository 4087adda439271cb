-- Daily review: the waiting totals from the promise index, and the top SKUs by waiting lines.
SELECT count(*), sum(qty - allocated - shipped - cancelled),
       sum((qty - allocated - shipped - cancelled) * unit_price_cents),
       count(*) FILTER (WHERE promised_on < current_date)
FROM order_lines WHERE qty > allocated + shipped + cancelled;
SELECT sku, name, waiting_lines, waiting_units FROM products
WHERE waiting_lines > 0 ORDER BY waiting_lines DESC, id LIMIT 10;

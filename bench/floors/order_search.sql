-- Order lookup by number prefix.
SELECT o.number, o.placed_at, c.name, c.email FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE lower(o.number) LIKE lower(':order_prefix') || '%' ORDER BY lower(o.number) LIMIT 50;

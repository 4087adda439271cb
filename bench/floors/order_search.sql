-- Order lookup by number prefix (services::lookup::search): the number index walked
-- backwards from the prefix, the customers' newest orders, merged, newest first.
WITH hits AS MATERIALIZED (
    (SELECT id FROM orders
      WHERE lower(number) ~>=~ lower(':order_prefix') AND lower(number) ~<~ (lower(':order_prefix') || chr(1114111))
      ORDER BY lower(number) USING ~>~ LIMIT 25)
    UNION
    (SELECT id FROM orders
      WHERE customer_id IN (SELECT id FROM customers
                             WHERE lower(email) LIKE '%' || lower(':order_prefix') || '%'
                                OR lower(name) LIKE '%' || lower(':order_prefix') || '%')
      ORDER BY placed_at DESC LIMIT 25))
SELECT o.number, c.name, c.email, o.placed_at, count(l.id) FILTER (WHERE l.waiting > 0),
       max(l.eta_worst) FILTER (WHERE l.waiting > 0)
FROM hits h JOIN orders o ON o.id = h.id JOIN customers c ON c.id = o.customer_id
JOIN order_lines l ON l.order_id = o.id
GROUP BY o.id, c.id ORDER BY o.placed_at DESC, o.id DESC LIMIT 25;

-- Order lookup by number prefix (services::search, a number): the shape of the newest
-- number, the exact numbers, the rest of each candidate's range walked backwards on the
-- number index, the count (one bind per range, capped), and the page's orders described.
-- ":order_prefix" is typed with the shop's prefix ("SO-00019"), so the candidates are
-- the prefix itself, without its dash, and as typed.
SELECT number FROM orders ORDER BY id DESC LIMIT 1;
SELECT id, lower(number) FROM orders
 WHERE lower(number) = ANY(ARRAY[lower(':order_prefix'), replace(lower(':order_prefix'), '-', '')])
 ORDER BY lower(number) DESC;
SELECT hit.id, hit.lower_number FROM unnest(ARRAY[lower(':order_prefix'), replace(lower(':order_prefix'), '-', '')]) AS c(prefix)
  CROSS JOIN LATERAL (
      SELECT id, lower(number) AS lower_number FROM orders
       WHERE lower(number) ~>=~ c.prefix AND lower(number) ~<~ (c.prefix || chr(1114111))
         AND lower(number) <> ALL(ARRAY[lower(':order_prefix'), replace(lower(':order_prefix'), '-', '')])
       ORDER BY lower(number) USING ~>~ LIMIT 26) hit
 ORDER BY hit.lower_number USING ~>~ LIMIT 26;
SELECT ((SELECT count(*) FROM (SELECT 1 FROM orders
          WHERE lower(number) ~>=~ lower(':order_prefix') AND lower(number) ~<~ (lower(':order_prefix') || chr(1114111))
          LIMIT 10001) x)
      + (SELECT count(*) FROM (SELECT 1 FROM orders
          WHERE lower(number) ~>=~ replace(lower(':order_prefix'), '-', '')
            AND lower(number) ~<~ (replace(lower(':order_prefix'), '-', '') || chr(1114111))
          LIMIT 10001) x))::int8;
SELECT o.number, c.name, c.email, o.placed_at, count(l.id) FILTER (WHERE l.waiting > 0),
       max(l.eta_worst) FILTER (WHERE l.waiting > 0)
  FROM (SELECT id, row_number() OVER (ORDER BY lower(number) DESC) AS n FROM orders
         WHERE lower(number) ~>=~ lower(':order_prefix') AND lower(number) ~<~ (lower(':order_prefix') || chr(1114111))
         ORDER BY lower(number) USING ~>~ LIMIT 25) page
  JOIN orders o ON o.id = page.id JOIN customers c ON c.id = o.customer_id
  LEFT JOIN order_lines l ON l.order_id = o.id
 GROUP BY page.n, o.id, c.id ORDER BY page.n;

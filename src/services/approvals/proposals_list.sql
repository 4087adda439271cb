-- Discount proposals with what a manager needs to decide: the order's value, how late it
-- is, the customer's orders and past compensations. $1: status; $2: only this proposer's
-- (NULL: everyone's); $3: today.
SELECT d.id, o.number AS order_number, c.name AS customer_name, d.kind, d.value, d.reason, d.status,
       d.proposed_by, pu.name AS proposed_by_name, du.name AS decided_by_name, d.decided_at, d.decision_note,
       d.coupon_code,
       (SELECT coalesce(sum((qty - cancelled) * unit_price_cents), 0)::int8 FROM order_lines WHERE order_id = o.id) AS order_value_cents,
       (SELECT coalesce(max(greatest(coalesce(eta_worst, $3) - promised_on, $3 - promised_on)), 0)::int8
          FROM order_lines WHERE order_id = o.id AND promised_on IS NOT NULL
           AND waiting > 0) AS days_late,
       (SELECT count(*) FROM orders x WHERE x.customer_id = c.id) AS customer_orders,
       (SELECT count(*) FROM discount_proposals p JOIN orders y ON y.id = p.order_id
         WHERE y.customer_id = c.id AND p.status = 'approved' AND p.id <> d.id) AS past_compensations,
       d.created_at
  FROM discount_proposals d
  JOIN orders o ON o.id = d.order_id
  JOIN customers c ON c.id = o.customer_id
  LEFT JOIN users pu ON pu.id = d.proposed_by
  LEFT JOIN users du ON du.id = d.decided_by
 WHERE d.status = $1 AND ($2::int8 IS NULL OR d.proposed_by = $2)
 ORDER BY d.created_at, d.id
 LIMIT 200

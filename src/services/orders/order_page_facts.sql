-- The facts behind the order's answers ($1: the order's id, $2: the idempotency key of
-- today's ETA update), one row, lists as JSON arrays (NULL for none). The first four
-- concern only waiting lines: the open deliveries booked for their products, the units
-- ahead of each in its queue (from the partial index of waiting lines), the last date
-- each line's customer was told (and by which email), and when a pending date-change
-- email is due. Then the swaps taken on the order and when today's ETA update was queued.
SELECT
  (SELECT json_agg(d) FROM (
     SELECT pl.product_id, (pl.qty_ordered - pl.qty_received) AS units, po.expected_on
       FROM purchase_order_lines pl JOIN purchase_orders po ON po.id = pl.purchase_order_id
      WHERE pl.product_id IN (SELECT w.product_id FROM order_lines w
                               WHERE w.order_id = $1 AND w.waiting > 0)
        AND po.status = 'open' AND pl.qty_received < pl.qty_ordered) d)::text AS deliveries,
  (SELECT json_agg(a) FROM (
     SELECT l.id AS line_id,
            (SELECT coalesce(sum(x.waiting), 0)::int8 FROM order_lines x
              WHERE x.product_id = l.product_id AND x.waiting > 0
                AND x.queue_position < l.queue_position) AS units_ahead
       FROM order_lines l WHERE l.order_id = $1 AND l.waiting > 0) a)::text AS ahead,
  (SELECT json_agg(t) FROM (
     SELECT DISTINCT ON (t.order_line_id) t.order_line_id, t.told_on, t.told_at,
            m.status, m.kind
       FROM order_lines l
       JOIN told_dates t ON t.order_line_id = l.id
       LEFT JOIN messages m ON m.id = t.message_id
      WHERE l.order_id = $1 AND l.waiting > 0
      ORDER BY t.order_line_id, t.id DESC) t)::text AS told,
  (SELECT p.due_at FROM eta_updates_pending p
    WHERE p.order_id = $1
      AND EXISTS (SELECT 1 FROM order_lines w WHERE w.order_id = $1 AND w.waiting > 0)) AS update_due_at,
  (SELECT json_agg(s ORDER BY s.id) FROM (
     SELECT s.id, s.created_at, s.units, fp.name AS from_product, tp.name AS to_product,
            s.price_difference_cents, s.channel
       FROM swaps s
       JOIN order_lines f ON f.id = s.from_line_id JOIN products fp ON fp.id = f.product_id
       JOIN order_lines t ON t.id = s.to_line_id JOIN products tp ON tp.id = t.product_id
      WHERE s.order_id = $1) s)::text AS swaps,
  (SELECT m.created_at FROM messages m WHERE m.idempotency_key = $2 LIMIT 1) AS eta_update_queued_at

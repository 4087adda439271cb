-- The order ($1: its number) with its customer, and the small lists the order page shows
-- beside its lines, each a JSON array (NULL for none): discount proposals newest first,
-- each line's date changes oldest first, notes newest first. One round trip.
SELECT o.id, o.number, o.placed_at, o.payment_state, o.payment_authorized_until, o.max_wait_until,
       c.name AS customer_name, c.email AS customer_email, c.tier AS customer_tier,
       (SELECT count(*) FROM orders x WHERE x.customer_id = c.id) AS customer_orders,
       (SELECT json_agg(d ORDER BY d.id DESC) FROM (
          SELECT id, kind, value, status, reason, coupon_code, decision_note
            FROM discount_proposals WHERE order_id = o.id) d)::text AS proposals,
       (SELECT json_agg(h ORDER BY h.id) FROM (
          SELECT h.id, h.order_line_id, h.eta_likely, h.eta_worst, h.changed_at
            FROM order_line_eta_changes h JOIN order_lines l ON l.id = h.order_line_id
           WHERE l.order_id = o.id) h)::text AS eta_changes,
       (SELECT json_agg(n ORDER BY n.id DESC) FROM (
          SELECT n.id, n.body, u.name AS author, n.created_at
            FROM notes n LEFT JOIN users u ON u.id = n.user_id
           WHERE n.order_id = o.id) n)::text AS notes
  FROM orders o JOIN customers c ON c.id = o.customer_id
 WHERE o.number = $1

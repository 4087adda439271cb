-- One order's history ($1: the order's id, $2: its number), one JSON array per kind of
-- entry, so the whole timeline is one round trip. Each array is what one indexed query by
-- the order returns; `timeline.rs` turns its rows into entries.
SELECT
  -- Placed: when, what, and who placed it (the audit row of `order_placed`).
  (SELECT json_agg(x) FROM (
     SELECT o.placed_at,
            (SELECT string_agg(l.qty || ' × ' || p.name, ', ' ORDER BY l.id)
               FROM order_lines l JOIN products p ON p.id = l.product_id
              WHERE l.order_id = o.id) AS contents,
            (SELECT a.actor FROM audit_log a
              WHERE a.entity = 'order' AND a.entity_id = $2 AND a.action = 'order_placed'
              ORDER BY a.id LIMIT 1) AS actor
       FROM orders o WHERE o.id = $1) x)::text AS placed,
  -- Units reserved for the order's lines.
  (SELECT json_agg(x) FROM (
     SELECT m.created_at, p.name AS product, m.allocated_delta AS units, m.reference,
            u.name AS user_name, (m.created_at = l.created_at) AS at_intake
       FROM order_lines l
       JOIN stock_movements m ON m.order_line_id = l.id AND m.reason = 'allocation'
       JOIN products p ON p.id = l.product_id
       LEFT JOIN users u ON u.id = m.user_id
      WHERE l.order_id = $1) x)::text AS allocations,
  -- Shipments with their contents.
  (SELECT json_agg(x) FROM (
     SELECT s.created_at, s.is_partial, u.name AS user_name,
            string_agg(sl.quantity || ' × ' || p.name, ', ' ORDER BY sl.id) AS contents
       FROM shipments s
       JOIN shipment_lines sl ON sl.shipment_id = s.id
       JOIN order_lines l ON l.id = sl.order_line_id
       JOIN products p ON p.id = l.product_id
       LEFT JOIN users u ON u.id = s.created_by
      WHERE s.order_id = $1 GROUP BY s.id, u.name) x)::text AS shipments,
  -- Each change of a line's dates, oldest first, with what caused it: the rows written in
  -- the same transaction (same timestamp) that touch the line's product: a purchase
  -- order's new date, a receipt, a new or cancelled purchase order, a stock adjustment, a
  -- cancellation ahead in the queue.
  (SELECT json_agg(x ORDER BY x.change_id) FROM (
         SELECT h.id AS change_id, h.order_line_id AS line_id, p.name AS product, h.eta_worst, h.eta_likely,
                h.eta_is_estimate, h.changed_at, (h.changed_at = l.created_at) AS first,
                moved.reference AS moved_reference, moved.old_expected_on AS moved_from,
                moved.new_expected_on AS moved_to, moved.by_supplier AS moved_by_supplier,
                received.reference AS received_reference,
                booked.reference AS booked_reference, booked.expected_on AS booked_on,
                (SELECT a.entity_id FROM audit_log a
                  WHERE a.action = 'purchase_order_cancelled' AND a.created_at = h.changed_at
                  LIMIT 1) AS cancelled_po,
                EXISTS (SELECT 1 FROM stock_movements m
                         WHERE m.created_at = h.changed_at AND m.product_id = l.product_id
                           AND m.reason = 'adjustment') AS adjusted,
                (SELECT a.entity_id FROM audit_log a
                  WHERE a.action = 'order_line_cancelled' AND a.created_at = h.changed_at
                  LIMIT 1) AS cancelled_order
           FROM order_line_eta_changes h
           JOIN order_lines l ON l.id = h.order_line_id
           JOIN products p ON p.id = l.product_id
           LEFT JOIN LATERAL (
               SELECT po.reference, d.old_expected_on, d.new_expected_on, d.by_supplier
                 FROM purchase_order_date_changes d JOIN purchase_orders po ON po.id = d.purchase_order_id
                WHERE d.changed_at = h.changed_at
                  AND EXISTS (SELECT 1 FROM purchase_order_lines pl
                               WHERE pl.purchase_order_id = po.id AND pl.product_id = l.product_id)
                LIMIT 1) moved ON true
           LEFT JOIN LATERAL (
               SELECT po.reference FROM purchase_order_receipts r JOIN purchase_orders po ON po.id = r.purchase_order_id
                WHERE r.created_at = h.changed_at
                  AND EXISTS (SELECT 1 FROM purchase_order_lines pl
                               WHERE pl.purchase_order_id = po.id AND pl.product_id = l.product_id)
                LIMIT 1) received ON true
           LEFT JOIN LATERAL (
               SELECT po.reference, po.expected_on FROM purchase_orders po
                WHERE po.created_at = h.changed_at
                  AND EXISTS (SELECT 1 FROM purchase_order_lines pl
                               WHERE pl.purchase_order_id = po.id AND pl.product_id = l.product_id)
                LIMIT 1) booked ON true
          WHERE l.order_id = $1) x)::text AS eta_changes,
  -- Emails, with the rep who wrote one.
  (SELECT json_agg(x) FROM (
     SELECT m.id, m.kind, m.subject, m.status, m.created_at, u.name AS user_name
       FROM messages m LEFT JOIN users u ON u.id = m.created_by
      WHERE m.order_id = $1) x)::text AS emails,
  -- Notes.
  (SELECT json_agg(x) FROM (
     SELECT n.body, u.name AS author, n.created_at
       FROM notes n LEFT JOIN users u ON u.id = n.user_id WHERE n.order_id = $1) x)::text AS notes,
  -- Customer choices, cancellations and swaps, from the audit log (which says who).
  (SELECT json_agg(x) FROM (
     SELECT a.actor, a.action, a.after, a.created_at, u.name AS user_name
       FROM audit_log a LEFT JOIN users u ON u.id = a.user_id
      WHERE a.entity = 'order' AND a.entity_id = $2
        AND a.action IN ('customer_choice', 'order_line_cancelled', 'alternative_taken')) x)::text AS audited,
  -- Discount proposals and their decisions.
  (SELECT json_agg(x) FROM (
     SELECT d.kind, d.value, d.status, d.reason, d.coupon_code, d.decision_note, d.created_at,
            d.decided_at, pu.name AS proposed_by, du.name AS decided_by,
            (SELECT currency FROM shop_settings LIMIT 1) AS currency
       FROM discount_proposals d
       LEFT JOIN users pu ON pu.id = d.proposed_by
       LEFT JOIN users du ON du.id = d.decided_by
      WHERE d.order_id = $1) x)::text AS discounts

-- Each change of an order's line dates ($1: the order), with what caused it: the rows
-- written in the same transaction (same timestamp) that touch the line's product: a
-- purchase order's new date, a receipt, a new or cancelled purchase order, a stock
-- adjustment, a cancellation ahead in the queue.
SELECT h.order_line_id AS line_id, p.name AS product, h.eta_worst, h.eta_likely,
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
 WHERE l.order_id = $1
 ORDER BY h.id

-- Purchase orders as the list and the purchase-order page show them: the stored order,
-- its supplier's name, how many lines, units still to come (while open) and whether it
-- is late. $2 is today. The caller adds WHERE, then `GROUP BY po.id, s.name`.
SELECT po.*, s.name AS supplier, count(pl.id)::int8 AS lines,
       coalesce(sum(pl.qty_ordered - pl.qty_received) FILTER (WHERE po.status = 'open'), 0)::int8 AS outstanding,
       (po.status = 'open' AND po.expected_on < $2) AS late
  FROM purchase_orders po
  JOIN suppliers s ON s.id = po.supplier_id
  LEFT JOIN purchase_order_lines pl ON pl.purchase_order_id = po.id

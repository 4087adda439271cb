-- Reorder suggestions: products with waiting demand, "notify me" sign-ups or stock at the
-- reorder point, their projected stock (available + incoming - waiting - soft demand), and
-- the units that bring it back to reorder point + safety stock. $1: only products this
-- supplier supplies (NULL: all); $2: the most rows.
WITH soft AS (
    SELECT product_id, count(*)::int8 AS n
      FROM restock_subscriptions
     WHERE notified_at IS NULL AND unsubscribed_at IS NULL
     GROUP BY product_id
), candidates AS (
    SELECT p.id, p.sku, p.name, p.supplier_id, s.name AS supplier,
           greatest(p.on_hand - p.allocated, 0) AS available, p.waiting_units,
           coalesce(inc.units, 0)::int8 AS incoming, coalesce(soft.n, 0) AS soft_demand,
           p.reorder_point, p.safety_stock
      FROM products p
      LEFT JOIN suppliers s ON s.id = p.supplier_id
      LEFT JOIN soft ON soft.product_id = p.id
      LEFT JOIN LATERAL (
           SELECT sum(pl.qty_ordered - pl.qty_received) AS units
             FROM purchase_order_lines pl
             JOIN purchase_orders po ON po.id = pl.purchase_order_id
            WHERE pl.product_id = p.id AND pl.qty_received < pl.qty_ordered AND po.status = 'open'
      ) inc ON true
     WHERE ($1::int8 IS NULL OR p.supplier_id = $1
            OR EXISTS (SELECT 1 FROM product_suppliers ps WHERE ps.product_id = p.id AND ps.supplier_id = $1))
       AND (p.waiting_units > 0 OR soft.n > 0 OR p.on_hand - p.allocated <= p.reorder_point)
), projected AS (
    SELECT c.*, greatest(c.waiting_units - c.available - c.incoming, 0)::int8 AS uncovered,
           (c.available + c.incoming - c.waiting_units - c.soft_demand)::int8 AS projected
      FROM candidates c
)
SELECT *, (reorder_point + safety_stock - projected)::int8 AS suggested
  FROM projected
 WHERE projected <= reorder_point AND reorder_point + safety_stock - projected > 0
 ORDER BY supplier NULLS LAST, uncovered DESC, soft_demand DESC, sku
 LIMIT $2

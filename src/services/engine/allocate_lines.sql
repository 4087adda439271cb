-- Gives units to waiting lines and writes the ledger's allocation row of each, in one
-- statement (a receipt for 10,000 lines: one round trip, nothing read back but the
-- lines' orders). $1 the lines in queue order, $2 the units each gets, $3 whether it then
-- waits for nothing more; $4 the product, $5 the ledger's reason, $6 the event's
-- reference (NULL: each line's order number), $7 the user. Returns each line with its
-- order, in queue order; the ledger rows are written in that order too.
WITH u AS (
    SELECT * FROM unnest($1::int8[], $2::int4[], $3::bool[]) WITH ORDINALITY
        AS u(id, units, complete, place)
), allocated AS (
    UPDATE order_lines l
       SET allocated = l.allocated + u.units,
           waiting_ended_at = CASE WHEN u.complete THEN now() ELSE l.waiting_ended_at END,
           waiting_ended_by = CASE WHEN u.complete THEN 'filled' ELSE l.waiting_ended_by END,
           queue_position = CASE WHEN u.complete THEN NULL ELSE l.queue_position END
      FROM u
     WHERE l.id = u.id
    RETURNING l.id, l.order_id, u.units, u.complete, u.place
), numbered AS (
    SELECT a.*, o.number AS order_number
      FROM allocated a
      JOIN orders o ON o.id = a.order_id
), ledger AS (
    INSERT INTO stock_movements (product_id, reason, on_hand_delta, allocated_delta, reference,
                                 order_line_id, user_id)
    SELECT $4, $5, 0, n.units, coalesce($6, n.order_number), n.id, $7
      FROM numbered n
     ORDER BY n.place
)
SELECT n.id AS line_id, n.order_id, n.order_number, n.units, n.complete
  FROM numbered n
 ORDER BY n.place

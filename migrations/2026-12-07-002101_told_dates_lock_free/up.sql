-- An email states every line of its order, but an event locks only its own products'
-- lines (FOR UPDATE). The foreign key from told_dates to order_lines made each insert take
-- a KEY SHARE lock on the order's other lines, so two events on two products of one order
-- could deadlock. told_dates is an append-only record of what an email said; it keeps the
-- line's id without the lock.
ALTER TABLE told_dates DROP CONSTRAINT told_dates_order_line_id_fkey;

-- At most one open discount proposal per order (issue 13: two 10% coupons were issued for
-- one order and one delay, because the delay policy keyed its proposals by line promise).
-- A proposal for an order with nothing left to ship is withdrawn, with the reason.
ALTER TABLE discount_proposals DROP CONSTRAINT discount_proposals_status_check;
ALTER TABLE discount_proposals ADD CONSTRAINT discount_proposals_status_check
    CHECK (status IN ('proposed', 'approved', 'rejected', 'withdrawn'));

-- Open duplicates from before: the first stays open, the later ones are withdrawn.
UPDATE discount_proposals d
   SET status = 'withdrawn', decided_at = now(),
       decision_note = 'withdrawn: another proposal for this order was open already'
 WHERE d.status = 'proposed'
   AND EXISTS (SELECT 1 FROM discount_proposals e
                WHERE e.order_id = d.order_id AND e.status = 'proposed' AND e.id < d.id);

CREATE UNIQUE INDEX discount_proposals_one_open_per_order
    ON discount_proposals (order_id) WHERE status = 'proposed';

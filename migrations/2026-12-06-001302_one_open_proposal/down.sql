DROP INDEX IF EXISTS discount_proposals_one_open_per_order;
UPDATE discount_proposals SET status = 'rejected' WHERE status = 'withdrawn';
ALTER TABLE discount_proposals DROP CONSTRAINT discount_proposals_status_check;
ALTER TABLE discount_proposals ADD CONSTRAINT discount_proposals_status_check
    CHECK (status IN ('proposed', 'approved', 'rejected'));

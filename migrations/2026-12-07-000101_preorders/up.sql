-- A pre-order (issue 18, part 2): orders are taken and queued before the release day;
-- stock received before it is held (not allocated) until that day.
ALTER TABLE products ADD COLUMN preorder_release_on DATE;

-- A bulk cancel of more lines than this needs a manager (issue 13): a filter that
-- matches more than it seems to must not let one click empty the queue.
ALTER TABLE shop_settings
    ADD COLUMN bulk_cancel_max_lines INTEGER NOT NULL DEFAULT 20
        CHECK (bulk_cancel_max_lines BETWEEN 0 AND 100000);

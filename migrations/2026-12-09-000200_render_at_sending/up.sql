-- Emails rendered when they are sent (issue 17): a receipt that fills 10,000 orders
-- queues 10,000 rows in its transaction, each carrying what it must state (`facts`), and
-- the delivery worker renders each from the order as it is at sending. `facts` is NULL
-- once the message is rendered (every message queued before this change is).
ALTER TABLE messages ADD COLUMN facts JSONB;

-- A message rendered at sending that has nothing true left to say (the units it would
-- announce were shipped or cancelled first) is withdrawn, not sent.
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'dead', 'withdrawn'));

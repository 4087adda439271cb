UPDATE messages SET status = 'dead' WHERE status = 'withdrawn';
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'dead'));
ALTER TABLE messages DROP COLUMN facts;

-- The review's headline figures as they stood each day, so the page can show the change
-- since yesterday for figures the line timestamps cannot rebuild (units, value, ages).
CREATE TABLE review_snapshots (
    day DATE PRIMARY KEY,
    open_lines BIGINT NOT NULL,
    waiting_units BIGINT NOT NULL,
    value_waiting_cents BIGINT NOT NULL,
    overdue_lines BIGINT NOT NULL,
    median_age_days DOUBLE PRECISION,
    oldest_age_days BIGINT,
    taken_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

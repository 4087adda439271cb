-- The shop's record of resolved promises, counted once a day (issue 17): the count runs
-- over a year of order lines (half a second in a shop of a million orders), and what it
-- counts only changes from one day to the next (a promise resolves when its day has
-- passed or its line shipped before today), as the simulator counts it.
CREATE TABLE promise_records (
    day DATE PRIMARY KEY,
    resolved BIGINT NOT NULL CHECK (resolved >= 0),
    kept BIGINT NOT NULL CHECK (kept >= 0 AND kept <= resolved),
    counted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

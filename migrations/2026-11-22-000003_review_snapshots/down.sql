DROP TABLE IF EXISTS review_snapshots;

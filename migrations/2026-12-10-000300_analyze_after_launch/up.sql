-- Statistics that keep up with a launch (issue 17). Autovacuum analyzes a table once
-- `autovacuum_analyze_threshold + autovacuum_analyze_scale_factor * rows` of it changed
-- since the last ANALYZE: at the defaults (50 + 10%) a 1,000,000-order shop's order_lines
-- (2.5 million rows) is re-analyzed after 250,000 changed lines, so a launch that doubles
-- its waiting lines (100,000 more) leaves every page planning from the shop before it.
-- Measured after launch runs on such a shop: the order page read its timeline by an
-- 81 ms sequential scan of order_line_eta_changes, 0.18 ms once analyzed (BENCHMARKS.md).
--
-- The tables a launch grows (each order adds a customer, an order, its lines, dated with
-- a date change and a told date, an audit row and emails; a receipt adds a ledger row
-- per line) are analyzed after 1% (the big, slow-changing history: order lines, orders,
-- customers, the stock ledger, the audit log) or 2% (the fast-turning ones: the date
-- changes and told dates the order page reads, the outbox whose claim plans on status)
-- of their rows changed, plus 1,000.
--
-- Why analyzing this often is cheap: ANALYZE samples at most 300 x
-- default_statistics_target (30,000) rows whatever the table's size, and autovacuum
-- looks at a table at most once per autovacuum_naptime (1 minute), so even a launch at
-- 1,000 orders/s costs one sample per table a minute (1% of order_lines, ~25,000 lines,
-- changes in well under a minute of it). The floor of 1,000
-- (not the default 50) keeps a new shop's small tables from being re-analyzed every few
-- orders, for plans that do not change at that size. products is left at the defaults:
-- a launch adds no products and its counters change in place on a few rows.
ALTER TABLE order_lines SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
ALTER TABLE orders SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
ALTER TABLE customers SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
ALTER TABLE stock_movements SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
ALTER TABLE audit_log SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);
ALTER TABLE order_line_eta_changes SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
ALTER TABLE told_dates SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
ALTER TABLE messages SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);

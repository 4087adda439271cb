ALTER TABLE order_lines RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE orders RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE customers RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE stock_movements RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE audit_log RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE order_line_eta_changes RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE told_dates RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE messages RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);

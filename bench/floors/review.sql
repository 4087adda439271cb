-- Daily review: every figure it counts (services::review, web::home::count_review). The
-- page shares one count between requests for FIGURES_MAX_AGE_MS (web::recent), so this
-- is what the page costs once every two seconds, not on every request.
SELECT count(*), sum(waiting), sum(waiting * unit_price_cents),
       count(*) FILTER (WHERE promised_on < current_date),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY (current_date - placed_at::date)),
       max(current_date - placed_at::date)
FROM order_lines WHERE waiting > 0;
SELECT (waiting_since AT TIME ZONE current_setting('TimeZone'))::date AS day, count(*)
FROM order_lines WHERE waiting_since >= now() - interval '30 days' GROUP BY 1;
SELECT (waiting_ended_at AT TIME ZONE current_setting('TimeZone'))::date AS day, count(*)
FROM order_lines WHERE waiting_ended_at >= now() - interval '30 days' GROUP BY 1;
SELECT product_id, count(DISTINCT customer_id) AS customers, sum(waiting) AS units
FROM order_lines WHERE waiting > 0 GROUP BY product_id ORDER BY customers DESC, units DESC LIMIT 10;
SELECT count(*), count(*) FILTER (WHERE completed_at IS NOT NULL AND shipped > 0
                                     AND (completed_at AT TIME ZONE current_setting('TimeZone'))::date <= promised_on)
FROM order_lines WHERE promised_on >= current_date - 30 AND promised_on < current_date AND cancelled < qty;
SELECT count(*) FROM products WHERE on_hand - allocated > 0 AND on_hand - allocated <= reorder_point;
SELECT (SELECT count(*) FROM order_lines WHERE waiting > 0 AND eta_worst IS NULL),
       (SELECT count(*) FROM order_lines WHERE waiting > 0 AND lapses_on IS NOT NULL
                                          AND (eta_worst IS NULL OR lapses_on < eta_worst));

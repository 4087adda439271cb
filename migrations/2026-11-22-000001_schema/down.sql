DROP TABLE IF EXISTS day_reviews, audit_log, notes, restock_subscriptions, discount_proposals,
  link_uses, messages, shipment_lines, shipments, order_line_eta_changes, order_lines, orders,
  customers, receipt_lines, purchase_order_receipts, purchase_order_date_changes,
  purchase_order_lines, purchase_orders, stock_movements, products, suppliers, api_tokens,
  login_attempts, users, shop_settings, app_secrets CASCADE;

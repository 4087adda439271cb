//! One test binary over HTTP and PostgreSQL: each module is a part of the product.

mod api;
mod approvals;
mod bad_input;
mod browser;
mod browser_helpers;
mod browser_walks;
mod cli;
mod engine_db;
mod faults;
mod foundation;
mod helpers;
mod inventory;
mod messages;
mod metrics;
mod notify_me;
mod orders_page;
mod promises_agree;
mod purchase_orders_page;
mod queue_page;
mod replica;
mod request_logs;
mod review_page;
mod seed_large;
mod shop;
mod smtp_sink;
mod webhooks;

//! Use cases: each loads what it needs, asks the domain, and stores the outcome in one
//! transaction. Handlers, the command line and the worker call these.

pub mod accounts;
pub mod admin;
pub mod api_tokens;
pub mod approvals;
pub mod audit_words;
pub mod backorders;
pub mod catalog;
pub mod choices;
pub mod engine;
pub mod eta;
pub mod events;
pub mod fulfilment;
pub mod inventory;
pub mod lookup;
pub mod message_search;
pub mod messages;
pub mod monitoring;
pub mod notify;
pub mod order_actions;
pub mod order_page;
pub mod order_status;
pub mod orders;
pub mod passwords;
pub mod proposals;
pub mod purchase_orders;
pub mod purchasing;
pub mod reorder;
pub mod review;
pub mod review_notes;
pub mod search;
pub mod self_service;
pub mod sourcing;
pub mod subscriptions;
pub mod timeline;
pub mod webhooks;

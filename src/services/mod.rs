//! Use cases: each loads what it needs, asks the domain, and stores the outcome in one
//! transaction. Handlers, the command line and the worker call these.

pub mod admin;
pub mod approvals;
pub mod backorders;
pub mod engine;
pub mod inventory;
pub mod links;
pub mod messages;
pub mod orders;
pub mod priced;
pub mod purchasing;
pub mod review;
pub mod webhooks;

//! Customer messaging use cases: what each event queues (backorder, delay, restock,
//! shipment, cancellation, back in stock, status updates), what reps do on the Messages
//! page (preview, retry, compose, bulk update). Every email is queued in the caller's
//! transaction, under an idempotency key that names its event, so nothing is queued
//! twice; rendered then, except the restock email (`restock_mail`: rendered at sending).
//! One file per use case; `mail` is the order's email they share.

pub mod compose;
pub mod eta_updates;
mod mail;
pub mod message_search;
pub mod page;
pub mod periodic;
pub mod restock_mail;
pub mod seed;
pub mod triggers;

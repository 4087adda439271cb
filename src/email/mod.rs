//! Customer email (DESIGN §6): messages are queued in the outbox in the transaction that
//! causes them, rendered then or, for events that reach many orders, by the worker when
//! it sends them (`at_sending`); a worker delivers them over SMTP (or to `.eml` files).
//! The triggers that decide what to queue live in `services::messages`.

pub mod at_sending;
pub mod links;
pub mod outbox;
pub mod render;
pub mod smtp_pool;
pub mod transport;
pub mod worker;

pub use outbox::Kind;

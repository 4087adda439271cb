//! Use cases: each loads what it needs, asks the domain, and stores the outcome in one
//! transaction. Handlers, the command line and the worker call these.

pub mod accounts;
pub mod passwords;
pub mod review;

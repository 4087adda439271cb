//! Links from emails that customers act on.

pub mod self_service;

//! Backorder Desk: an online shop's backorders, from the queue of waiting order lines to
//! the emails that tell each customer when their item ships.

pub mod cli;
pub mod clock;
pub mod config;
pub mod csv_cells;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod metrics;
pub mod progress;
pub mod seed;
pub mod seed_large;
pub mod services;
pub mod sim;
pub mod startup;
pub mod telemetry;
pub mod web;

/// Shared words, numbers and checked values live in the domain; these are their short
/// paths (`crate::format::money`, `crate::types::Email`), used by pages and templates.
pub use domain::{format, types};

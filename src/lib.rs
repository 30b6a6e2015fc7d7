//! rekon: batch sync and reconciliation of partner APIs into a warehouse.
//!
//! The binary in `main.rs` is a thin shell over [`cli::run`]; everything
//! else lives here so tests and benchmarks drive the same code.

pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod onboard;
pub mod outcome;
pub mod providers;
pub mod reconcile;
pub mod report;
pub mod schedule;
pub mod secrets;
pub mod shutdown;
pub mod sim;
pub mod sync;
pub mod telemetry;
pub mod timezone;
pub mod warehouse;

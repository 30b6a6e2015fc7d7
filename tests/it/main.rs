//! Integration tests: real SQLite files, a real Postgres (a fresh database
//! per test), and the simulator on port 0.

mod crafted;
mod harness;
mod migrations;
mod onboard_cli;
mod onboard_process;
mod onboard_register;
mod reconcile;
mod report;
mod schedule_cli;
mod schedule_stop;
mod sync_cli;
mod sync_faults;
mod sync_first_load;
mod sync_lands;
mod sync_unchanged;

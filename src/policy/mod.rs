//! Policy: command rules, shell splitting, wrappers, categories, structured
//! review rules, and the deterministic decision pipeline.
//!
//! Owns every layer that decides without a model. It may import `config`,
//! `action` and `decision`; never `review`, `judge` or anything above: the
//! reviewer is asked by the `judge` when [`pipeline::Prejudged`] says so.

pub mod command_rules;
pub mod fixtures;
pub mod hidden_commands;
pub mod paths;
pub mod pipeline;
pub mod preapproval;
pub mod predict;
pub mod review_rules;
pub mod run_writes;
pub mod shell;
pub mod wrappers;

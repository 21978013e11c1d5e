//! Policy: command rules, shell splitting, wrappers, categories, and the
//! decision pipeline that ties them to the reviewer.

pub mod command_rules;
pub mod fixtures;
pub mod hidden_commands;
pub mod paths;
pub mod pipeline;
pub mod preapproval;
pub mod predict;
pub mod run_writes;
pub mod shell;
pub mod wrappers;

//! The headless agent loop: drives a model's tool calls through the
//! decision pipeline, the sandbox, the circuit breaker and the audit log.

pub mod exec;
pub mod output;
pub mod patch;
pub mod run;
pub mod tools;

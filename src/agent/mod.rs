//! The headless agent loop: drives a model's tool calls through the pipeline.

pub mod provider;

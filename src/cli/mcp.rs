//! `warden mcp`: not implemented yet.

use clap::Subcommand;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// List MCP tools and their classification.
    List,
}

pub fn run(_global: &GlobalArgs, _args: McpCommand) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden mcp` is not implemented yet"))
}

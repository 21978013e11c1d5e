//! `warden gh`: not implemented yet.

use clap::Subcommand;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum GhCommand {
    /// Refuse unless the triggering actor may write.
    Authorize,
}

pub fn run(_global: &GlobalArgs, _args: GhCommand) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden gh` is not implemented yet"))
}

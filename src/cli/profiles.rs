//! `warden profiles`: not implemented yet.

use clap::Subcommand;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List built-in profiles.
    List,
}

pub fn run(_global: &GlobalArgs, _args: ProfilesCommand) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden profiles` is not implemented yet"))
}

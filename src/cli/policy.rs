//! `warden policy`: not implemented yet.

use clap::Subcommand;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run policy fixtures.
    Test {
        /// Fixture files.
        files: Vec<std::path::PathBuf>,
    },
}

pub fn run(_global: &GlobalArgs, _args: PolicyCommand) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden policy` is not implemented yet"))
}

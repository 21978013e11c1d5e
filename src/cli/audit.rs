//! `warden audit`: not implemented yet.

use clap::Subcommand;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain.
    Verify {
        /// Audit log.
        file: std::path::PathBuf,
    },
}

pub fn run(_global: &GlobalArgs, _args: AuditCommand) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden audit` is not implemented yet"))
}

//! `warden check`: not implemented yet.

use clap::Args;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The command to decide.
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub fn run(_global: &GlobalArgs, _args: CheckArgs) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden check` is not implemented yet"))
}

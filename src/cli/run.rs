//! `warden run`: not implemented yet.

use clap::Args;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task (or - for stdin).
    pub prompt: Option<String>,
}

pub fn run(_global: &GlobalArgs, _args: RunArgs) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden run` is not implemented yet"))
}

//! `warden sandbox`: not implemented yet.

use clap::Args;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The command to run.
    #[arg(last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SandboxExecArgs {
    /// The command to run.
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub fn exec_helper(_args: SandboxExecArgs) -> Result<ExitStatus, Error> {
    Err(Error::usage("not implemented yet"))
}

pub fn run(_global: &GlobalArgs, _args: SandboxArgs) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden sandbox` is not implemented yet"))
}

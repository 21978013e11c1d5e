//! `warden report`: not implemented yet.

use clap::Args;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Audit log to render.
    #[arg(long)]
    pub audit: std::path::PathBuf,
}

pub fn run(_global: &GlobalArgs, _args: ReportArgs) -> Result<ExitStatus, Error> {
    Err(Error::usage("`warden report` is not implemented yet"))
}

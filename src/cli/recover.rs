//! `warden recover`: after a warden was killed while a command ran (a
//! cancelled job, SIGKILL), put the workspace's protected paths back as
//! they were before that command, from warden's journal
//! ([`crate::sandbox::journal`]). The Action runs it in a final
//! `if: always()` step.

use clap::Args;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};

const RECOVER_HELP: &str = "\
warden journals the protected paths of the workspace (.git's config and
hooks, .warden, .github/workflows, ...) before each command that could
change them, and removes the journal once it verified them afterwards. A
journal left behind means warden was stopped mid-command: until it is dealt
with, `warden run` and `warden sandbox` in that workspace refuse to start
(exit 5) when protected paths differ from it.

This command restores every difference from the journal and drops it (or,
with --discard, keeps the current state and drops it). It prints what it
found, and nothing when there was nothing to recover.

Exit status: 0 when nothing was pending or everything was restored; 5 when
a journal cannot be read or a difference cannot be put back.

Examples:
  warden recover
  warden recover --cwd repo --discard";

/// Restore protected paths left unverified by a warden that was killed.
#[derive(Debug, Args)]
#[command(after_help = RECOVER_HELP)]
pub struct RecoverArgs {
    /// Keep the protected paths as they are now (they were checked by
    /// hand) and drop the journal.
    #[arg(long)]
    pub discard: bool,
}

pub fn run(global: &GlobalArgs, args: RecoverArgs) -> Result<ExitStatus, Error> {
    let dir = match &global.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| Error::usage(format!("cannot read the current directory: {e}")))?,
    };
    let workspace = std::fs::canonicalize(&dir)
        .map_err(|e| Error::usage(format!("workspace `{}`: {e}", dir.display())))?;
    let found = crate::sandbox::journal::recover(&workspace, args.discard)?;
    if found.journals == 0 {
        return Ok(ExitStatus::Success);
    }
    let verb = if args.discard { "kept" } else { "restored" };
    eprintln!(
        "warden: {} interrupted command(s) in {}; {} protected change(s) {verb}",
        found.journals,
        workspace.display(),
        found.changes.len()
    );
    for c in &found.changes {
        eprintln!("warden:   {} ({})", c.path.display(), c.change);
    }
    Ok(ExitStatus::Success)
}

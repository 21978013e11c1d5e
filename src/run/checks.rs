//! Checks `warden run` makes before the agent starts, about secrets the
//! sandbox cannot hide: a token in git's config (or a file it includes)
//! stops the run; a deny-read entry naming a file git tracks is a warning
//! (glob) or a configuration error (explicit path).
//!
//! Part of the run lifecycle ([`crate::run`]); it may import `config`,
//! `sandbox` and `audit`.

use std::path::{Path, PathBuf};

use crate::audit::Event;
use crate::config::{Config, Loaded};
use crate::error::Error;
use crate::sandbox::tracked;

/// HOME as sandboxed commands get it (`[sandbox.env] set` may change it).
fn command_home(config: &Config) -> Option<PathBuf> {
    config
        .sandbox
        .env_set
        .get("HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
}

/// Every sandboxed command can read git's config (and what it includes),
/// so a token persisted there is the agent's: refuse to start (exit 2)
/// rather than hand it over. Only where and what kind are printed, never
/// the value.
pub fn refuse_persisted_credentials(workspace: &Path, config: &Config) -> Result<(), Error> {
    let home = command_home(config);
    let found = crate::sandbox::git_credentials::persisted_credentials(workspace, home.as_deref());
    if found.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = found.iter().map(|c| format!("  {c}")).collect();
    Err(Error::usage(format!(
        "git's config keeps a credential (or includes a file that does), readable by every command the agent runs:\n{}\n  help: check out with `persist-credentials: false` (actions/checkout), or remove the entry (`git config --unset-all http.https://github.com/.extraheader`, or the `includeIf` naming the file), then run again",
        list.join("\n")
    )))
}

/// Deny-read entries that name tracked files: an explicit path is an error
/// naming the config's `file:line:col`; globs give a warning on stderr and
/// the audit records returned (written once the log exists). Without git
/// the check is skipped, said on stderr and recorded.
pub fn check_tracked_deny_read(workspace: &Path, loaded: &Loaded) -> Result<Vec<Event>, Error> {
    let config = &loaded.config;
    let tracked_files = match tracked::tracked_files(workspace) {
        Ok(Some(files)) => files,
        Ok(None) => return Ok(Vec::new()),
        Err(why) => {
            eprintln!(
                "warden: warning: cannot list the files git tracks ({why}); deny-read entries \
                 naming committed files are not checked"
            );
            return Ok(vec![Event::DenyReadTracked {
                file: String::new(),
                entry: String::new(),
                detail: why,
            }]);
        }
    };
    let home = command_home(config);
    let found = tracked::tracked_denied(
        workspace,
        home.as_deref(),
        &config.sandbox.deny_read,
        &tracked_files,
    );
    let explicit: Vec<String> = found
        .iter()
        .filter(|t| t.explicit)
        .map(|t| {
            let at = loaded
                .provenance_of(&format!("sandbox.deny_read[{}]", t.index))
                .and_then(|p| p.source.as_ref())
                .map(|s| format!("{s}: "))
                .unwrap_or_default();
            format!(
                "  {at}sandbox.deny_read `{}` names `{}`, which git tracks",
                t.entry,
                t.file.display()
            )
        })
        .collect();
    if !explicit.is_empty() {
        return Err(Error::usage(format!(
            "a deny-read path is committed to the repository: its content is in .git/objects, \
             which every command can read, so denying the file protects nothing:\n{}\n  help: \
             remove the secret from the repository (and its history), rotate it, then run again",
            explicit.join("\n")
        )));
    }
    let mut events = Vec::new();
    for t in found {
        eprintln!(
            "warden: warning: `{}` matches deny_read `{}` but is committed: its content is in \
             .git/objects, readable by every command; the sandbox hides only the working-tree copy",
            t.file.display(),
            t.entry
        );
        events.push(Event::DenyReadTracked {
            file: t.file.display().to_string(),
            entry: t.entry,
            detail: String::new(),
        });
    }
    Ok(events)
}

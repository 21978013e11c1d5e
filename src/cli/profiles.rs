//! `warden profiles list|show`: the built-in profiles, and a resolved
//! configuration with the layer and `file:line` every value came from.

use clap::{Args, Subcommand};

use super::GlobalArgs;
use crate::config;
use crate::error::{Error, ExitStatus};
use crate::report::profile::{list_text, show_json, show_text};

const SHOW_HELP: &str = "\
The configuration is resolved exactly as `warden run` would resolve it:
the built-in profile (over builtin:profiles/common.toml), then
WORKSPACE/.warden/config.toml, each --config FILE, each -c KEY=VALUE, and
the managed requirements on top. Each value is followed by the place that
set it (`builtin:profiles/ci.toml:12`, `.warden/config.toml:3`, `-c:1:9`
for the first -c flag, column 9). Values of MCP server `env` tables and
of credential-like variables (names with TOKEN, SECRET, KEY, …) are never
printed. Warnings go to stderr; a configuration error exits 2 and names
file:line:col.

Examples:
  warden profiles show ci
  warden profiles show dev --cwd path/to/repo -c sandbox.network=on
  warden profiles show nightly --requirements /etc/warden/requirements.toml --json";

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List the built-in profiles and who each one is for.
    #[command(after_help = "Examples:\n  warden profiles list\n  warden profiles list --json")]
    List(ListArgs),
    /// Show a resolved profile: every value with the layer it came from,
    /// every rule with its source, and the effective reviewer policy.
    #[command(after_help = SHOW_HELP)]
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (`[{"name": …, "description": …}]`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Built-in profile at the bottom of the stack (`warden profiles list`).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Print JSON: profile, digest, layers, warnings, config, provenance.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, cmd: ProfilesCommand) -> Result<ExitStatus, Error> {
    match cmd {
        ProfilesCommand::List(args) => {
            print!("{}", list_text(args.json));
            Ok(ExitStatus::Success)
        }
        ProfilesCommand::Show(args) => {
            let loaded = config::load(&global.load_options(Some(&args.name)))?;
            for w in &loaded.diagnostics {
                eprintln!("warning: {}", crate::redact::redact(&w.to_string()));
            }
            let out = if args.json {
                show_json(&loaded)
            } else {
                show_text(&loaded)
            };
            print!("{}", crate::redact::redact(&out));
            Ok(ExitStatus::Success)
        }
    }
}

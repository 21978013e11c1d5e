//! The command line: clap definitions and dispatch. Each subcommand's flags
//! and behaviour live in its own file; this one only wires them together.
//! Everything here is callable in-process (`cli::main_with_args`) so tests
//! exercise the same code as the binary.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, ExitStatus};

pub mod audit;
pub mod check;
pub mod demo;
pub mod gh;
pub mod mcp;
pub mod policy;
pub mod profiles;
pub mod recover;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod session;

const AFTER_HELP: &str = "\
Exit codes:
  0  done (check: the action would run or is approved)
  1  the agent did not finish: budget hit or task error (check: denied;
     policy test: a fixture mismatched; audit verify: the chain is broken)
  2  usage or configuration error (config errors name file:line:col)
  3  the circuit breaker tripped
  4  stopped for a human: escalations pending (check: escalated)
  5  infrastructure: model API, GitHub API when required, or a kernel
     without the sandbox the profile requires

Examples:
  warden run --demo
  warden run --provider script --scenario scenario.yaml --cwd repo
  warden check --profile ci -- cargo test
  warden check --profile dev --explain --action action.json
  warden policy test tests/fixtures/policy/*.yaml --profile ci
  warden sandbox --profile ci -- cargo build
  warden profiles show nightly";

/// Run a coding agent headless in CI under a fail-closed permission profile.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Extra config file layered above the profile and `.warden/config.toml`.
    #[arg(long = "config", value_name = "FILE", global = true)]
    pub config: Vec<PathBuf>,
    /// Override one config key, highest layer (`-c sandbox.network="on"`).
    #[arg(short = 'c', value_name = "KEY=VALUE", global = true)]
    pub overrides: Vec<String>,
    /// Managed requirements file (else WARDEN_REQUIREMENTS, else
    /// /etc/warden/requirements.toml if present). Cannot be weakened.
    #[arg(long, value_name = "FILE", global = true, env = "WARDEN_REQUIREMENTS")]
    pub requirements: Option<PathBuf>,
    /// Workspace directory (default: the current directory).
    #[arg(long, value_name = "DIR", global = true)]
    pub cwd: Option<PathBuf>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG wins.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl GlobalArgs {
    /// What these flags ask the config loader for: the workspace is `--cwd`
    /// or the current directory, and system requirements are consulted.
    pub fn load_options(&self, profile: Option<&str>) -> crate::config::LoadOptions {
        crate::config::LoadOptions {
            profile: profile.map(str::to_owned),
            workspace: self
                .cwd
                .clone()
                .or_else(|| std::env::current_dir().ok())
                .or_else(|| Some(PathBuf::from("."))),
            config_files: self.config.clone(),
            overrides: self.overrides.clone(),
            requirements: self.requirements.clone(),
            system_requirements: true,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent on a task: every tool call goes through the pipeline.
    Run(run::RunArgs),
    /// Decide one action without running it.
    Check(check::CheckArgs),
    /// Test policy fixtures.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Run a command under a profile's sandbox; exit status is the command's.
    Sandbox(sandbox::SandboxArgs),
    /// Restore protected paths left unverified by a warden that was killed.
    Recover(recover::RecoverArgs),
    /// Render an audit log as Markdown, JSON or SARIF, or post it to GitHub.
    Report(report::ReportArgs),
    /// Verify and summarise audit logs.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// List built-in profiles or show a resolved one.
    #[command(subcommand)]
    Profiles(profiles::ProfilesCommand),
    /// Inspect configured MCP servers.
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
    /// GitHub helpers for workflows.
    #[command(subcommand)]
    Gh(gh::GhCommand),
    /// Internal: apply the sandbox in a fresh process, then exec.
    #[command(name = "__sandbox-exec", hide = true)]
    SandboxExec(sandbox::SandboxExecArgs),
}

/// Parse `args` and run; returns the process exit code. Never panics on
/// bad input: clap errors exit 2 (help and version exit 0).
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match parse(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage.code()
            } else {
                ExitStatus::Success.code()
            };
        }
    };
    init_logging(cli.global.verbose);
    match dispatch(cli) {
        Ok(status) => status.code(),
        Err(e) => {
            eprintln!("error: {}", crate::redact::redact(&e.to_string()));
            e.exit_status().code()
        }
    }
}

/// Parse the command line. `warden sandbox …` runs once per command a
/// script sandboxes, and `warden check …` once per hook or pre-commit
/// call, so each is first parsed by a command tree that has only that
/// subcommand (the same [`GlobalArgs`] and the same argument structs):
/// building every subcommand's arguments is most of clap's time. The
/// short tree is tried when the subcommand's name is the first word, or
/// follows global flags (`--cwd DIR check …`). Whatever it does not accept
/// (`--help`, a typo, another subcommand) goes to the full tree, so help
/// and errors have one source; what it accepts, the full tree parses the
/// same way (the same definitions, and the subcommand at the same place).
fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    match per_call_subcommand(args) {
        Some(PerCall::Sandbox) => {
            if let Ok(SandboxOnly {
                global,
                command: SandboxOnlyCommand::Sandbox(args),
            }) = SandboxOnly::try_parse_from(args)
            {
                return Ok(Cli {
                    global,
                    command: Command::Sandbox(args),
                });
            }
        }
        Some(PerCall::Check) => {
            if let Ok(CheckOnly {
                global,
                command: CheckOnlyCommand::Check(args),
            }) = CheckOnly::try_parse_from(args)
            {
                return Ok(Cli {
                    global,
                    command: Command::Check(args),
                });
            }
        }
        None => {}
    }
    Cli::try_parse_from(args)
}

/// The subcommands with a short tree of their own (see [`parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PerCall {
    Sandbox,
    Check,
}

/// Which short tree to try: the first word before `--` that names one.
/// Only a guess (a flag's value could be spelled `check`): clap decides.
fn per_call_subcommand(args: &[OsString]) -> Option<PerCall> {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .find_map(|a| match a.to_str() {
            Some("sandbox") => Some(PerCall::Sandbox),
            Some("check") => Some(PerCall::Check),
            _ => None,
        })
}

/// [`Cli`] with only the `sandbox` subcommand (see [`parse`]).
#[derive(Debug, Parser)]
#[command(name = "warden")]
struct SandboxOnly {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: SandboxOnlyCommand,
}

#[derive(Debug, Subcommand)]
enum SandboxOnlyCommand {
    Sandbox(sandbox::SandboxArgs),
}

/// [`Cli`] with only the `check` subcommand (see [`parse`]).
#[derive(Debug, Parser)]
#[command(name = "warden")]
struct CheckOnly {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: CheckOnlyCommand,
}

#[derive(Debug, Subcommand)]
enum CheckOnlyCommand {
    Check(check::CheckArgs),
}

fn dispatch(cli: Cli) -> Result<ExitStatus, Error> {
    let global = cli.global;
    match cli.command {
        Command::Run(args) => run::run(&global, args),
        Command::Check(args) => check::run(&global, args),
        Command::Policy(cmd) => policy::run(&global, cmd),
        Command::Sandbox(args) => sandbox::run(&global, args),
        Command::Recover(args) => recover::run(&global, args),
        Command::Report(args) => report::run(&global, args),
        Command::Audit(cmd) => audit::run(&global, cmd),
        Command::Profiles(cmd) => profiles::run(&global, cmd),
        Command::Mcp(cmd) => mcp::run(&global, cmd),
        Command::Gh(cmd) => gh::run(&global, cmd),
        Command::SandboxExec(args) => sandbox::exec_supervisor(args),
    }
}

/// Logging goes to stderr so `--json` output on stdout stays clean.
fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // rmcp logs MCP traffic (server instructions, whole messages) at info
    // and below, unredacted: keep it to warnings. warden logs what matters
    // about MCP servers itself, redacted (target `warden::mcp`).
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match EnvFilter::try_from_default_env() {
        Ok(filter) => builder.with_env_filter(filter).try_init(),
        // Without RUST_LOG or -v everything, rmcp included, is at `warn`:
        // a plain level, which spares `warden sandbox` parsing a filter.
        Err(_) if verbose == 0 => builder.with_max_level(tracing::Level::WARN).try_init(),
        Err(_) => builder
            .with_env_filter(EnvFilter::new(format!("{default},rmcp=warn")))
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("warden")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// The short `sandbox` tree parses exactly what the full tree parses.
    #[test]
    fn sandbox_fast_path_agrees_with_the_full_parser() {
        let cases: &[&[&str]] = &[
            &["sandbox", "--", "/bin/true"],
            &[
                "sandbox",
                "--profile",
                "ci",
                "--cwd",
                "ws",
                "--",
                "cargo",
                "build",
                "-v",
            ],
            &[
                "sandbox",
                "-c",
                "sandbox.network=\"on\"",
                "--config",
                "a.toml",
                "-vv",
                "--",
                "ls",
                "--",
                "-h",
            ],
            &[
                "sandbox",
                "--timeout",
                "30s",
                "--show-enforcement",
                "--requirements",
                "r.toml",
                "--",
                "x",
            ],
        ];
        for case in cases {
            let args = argv(case);
            let fast = SandboxOnly::try_parse_from(&args).unwrap();
            let full = Cli::try_parse_from(&args).unwrap();
            let fast = Cli {
                global: fast.global,
                command: match fast.command {
                    SandboxOnlyCommand::Sandbox(a) => Command::Sandbox(a),
                },
            };
            assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{case:?}");
            assert_eq!(format!("{:?}", parse(&args).unwrap()), format!("{full:?}"));
        }
    }

    /// Help, typos and misplaced flags come from the full tree.
    #[test]
    fn sandbox_fast_path_leaves_help_and_errors_to_the_full_parser() {
        for case in [
            &["sandbox", "--help"][..],
            &["sandbox", "--profle", "ci", "--", "x"],
            &["sandbox"],
        ] {
            let args = argv(case);
            let ours = parse(&args).unwrap_err();
            let full = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(ours.kind(), full.kind(), "{case:?}");
            assert_eq!(ours.to_string(), full.to_string(), "{case:?}");
        }
        let help = parse(&argv(&["sandbox", "--help"]))
            .unwrap_err()
            .to_string();
        assert!(help.contains("Usage: warden sandbox"), "{help}");
        assert!(help.contains("Exit status:"), "{help}");
    }

    /// The short `check` tree parses exactly what the full tree parses,
    /// global flags before the subcommand included, and a word `check`
    /// that is not the subcommand goes to the full tree.
    #[test]
    fn check_fast_path_agrees_with_the_full_parser() {
        let cases: &[&[&str]] = &[
            &["check", "--", "ls"],
            &["check", "--profile", "ci", "--json", "--", "git", "push"],
            &[
                "--cwd",
                "ws",
                "--config",
                "r.toml",
                "check",
                "--profile",
                "ci",
                "--",
                "rm",
                "-rf",
                "check",
            ],
            &[
                "-c",
                "approvals_reviewer=\"rules\"",
                "check",
                "--explain",
                "--action",
                "a.json",
            ],
            &[
                "check",
                "--reviewer",
                "auto_review",
                "--reviewer-model",
                "m",
                "--",
                "x",
            ],
            &["--cwd", "check", "run", "check"],
            &["run", "check"],
            &["sandbox", "--", "check"],
        ];
        for case in cases {
            let args = argv(case);
            let full = Cli::try_parse_from(&args).unwrap();
            if let Ok(fast) = CheckOnly::try_parse_from(&args) {
                let fast = Cli {
                    global: fast.global,
                    command: match fast.command {
                        CheckOnlyCommand::Check(a) => Command::Check(a),
                    },
                };
                assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{case:?}");
            } else {
                assert!(!matches!(full.command, Command::Check(_)), "{case:?}");
            }
            assert_eq!(format!("{:?}", parse(&args).unwrap()), format!("{full:?}"));
        }
        assert_eq!(
            per_call_subcommand(&argv(&["--cwd", "w", "check"])),
            Some(PerCall::Check)
        );
        assert_eq!(per_call_subcommand(&argv(&["run", "--", "check"])), None);
    }

    #[test]
    fn check_fast_path_leaves_help_and_errors_to_the_full_parser() {
        for case in [
            &["check", "--help"][..],
            &["check", "--profle", "ci", "--", "x"],
            &["--cwd", "w", "check", "--action", "a.json", "--", "x"],
        ] {
            let args = argv(case);
            let ours = parse(&args).unwrap_err();
            let full = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(ours.kind(), full.kind(), "{case:?}");
            assert_eq!(ours.to_string(), full.to_string(), "{case:?}");
        }
        let help = parse(&argv(&["check", "--help"])).unwrap_err().to_string();
        assert!(help.contains("Usage: warden check"), "{help}");
    }
}

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
pub mod report;
pub mod run;
pub mod run_report;
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
    let cli = match Cli::try_parse_from(args) {
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

fn dispatch(cli: Cli) -> Result<ExitStatus, Error> {
    let global = cli.global;
    match cli.command {
        Command::Run(args) => run::run(&global, args),
        Command::Check(args) => check::run(&global, args),
        Command::Policy(cmd) => policy::run(&global, cmd),
        Command::Sandbox(args) => sandbox::run(&global, args),
        Command::Report(args) => report::run(&global, args),
        Command::Audit(cmd) => audit::run(&global, cmd),
        Command::Profiles(cmd) => profiles::run(&global, cmd),
        Command::Mcp(cmd) => mcp::run(&global, cmd),
        Command::Gh(cmd) => gh::run(&global, cmd),
        Command::SandboxExec(args) => sandbox::exec_helper(args),
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
    let default = format!("{default},rmcp=warn");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

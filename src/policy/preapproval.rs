//! Pre-approval exceptions: when an allow rule's `grants` must not apply.
//!
//! Network grants are enforced as "network on" (seccomp cannot see
//! addresses), so a pre-approved `cargo fetch` may connect anywhere. Until
//! egress is host-exact, a pre-approval holds only while the command
//! cannot choose where the tool connects or what it runs. [`exception`]
//! judges one invocation against the declared [`table::TOOLS`]:
//!
//! - the program itself: a path (or the first `PATH` hit) inside a
//!   writable root is a file the agent could have replaced;
//! - options (`--config`, `--index-url`, `--registry`, `-e`, every
//!   spelling: `--opt=v`, bundled `-qi URL`, `-ihttps://…`, and for tools
//!   whose parser accepts them, abbreviations, `-long` and `--no-X`);
//! - assignments (`CARGO_TARGET_*_RUNNER=…`, `npm_config_registry=…`)
//!   given through `env` or `export`;
//! - operands that are not registry names (`.`, `./dir`, `file:`,
//!   `git+https://…`, URLs, archives);
//! - requirements and constraints files (`-r FILE`), read and judged line
//!   by line (an option, a URL or a path on any line; unreadable fails
//!   closed);
//! - workspace files (lockfiles, manifests, `.npmrc`,
//!   `.cargo/config.toml`, …) written in this run ([`RunWrites`]).
//!
//! The pipeline turns an exception into a `sandbox_approval` crossing that
//! asks for what the rule would have granted, with the reason naming the
//! input.

mod operands;
mod options;
pub mod table;

use std::path::{Path, PathBuf};

use super::command_rules::{basename, wildcard_match};
use super::paths::{PathPolicy, WriteTarget};
use super::run_writes::{RunWrites, Written};
use super::wrappers::Invocation;
use operands::{requirements_problem, spec_problem};
use options::{Parsed, option};
use table::{COMMON_ENV, Effect, Scope, TOOLS, Tool};

/// What one exec offers the checks besides each invocation's argv.
pub struct ExecContext<'a> {
    pub paths: &'a PathPolicy,
    pub search_path: &'a SearchPath,
    /// The exec's working directory (absolute).
    pub cwd: &'a Path,
    pub writes: &'a RunWrites,
    /// `NAME=value` words given to `env` or `export` in this exec.
    pub assignments: Vec<&'a str>,
    /// The working directory and every directory a `cd` or `pushd` in the
    /// exec moves to (`/` for one warden cannot resolve: `cd -`, `popd`).
    pub dirs: Vec<PathBuf>,
}

impl<'a> ExecContext<'a> {
    pub fn new(
        paths: &'a PathPolicy,
        search_path: &'a SearchPath,
        cwd: &'a Path,
        writes: &'a RunWrites,
        invocations: &'a [Invocation],
    ) -> Self {
        let mut assignments = Vec::new();
        let mut dirs = vec![cwd.to_path_buf()];
        for inv in invocations {
            let Some(program) = inv.argv.first() else {
                continue;
            };
            match basename(program) {
                "env" | "export" => assignments.extend(
                    inv.argv[1..]
                        .iter()
                        .filter(|w| is_assignment(w))
                        .map(String::as_str),
                ),
                "cd" | "pushd" | "popd" => {
                    let target = inv.argv[1..].iter().find(|w| !w.starts_with('-'));
                    dirs.push(match target {
                        Some(t) if program != "popd" => paths.ctx.resolve(t, Some(cwd)),
                        None if program == "cd" => paths.ctx.home.clone(),
                        _ => PathBuf::from("/"),
                    });
                }
                _ => {}
            }
        }
        ExecContext {
            paths,
            search_path,
            cwd,
            writes,
            assignments,
            dirs,
        }
    }
}

/// Why `argv`'s pre-approval must not apply, if it must not. `network`:
/// the matching rule grants the network (more inputs matter then).
/// `after`: the command that runs before it in the same script, if any.
pub fn exception(
    argv: &[String],
    network: bool,
    after: Option<&[String]>,
    ctx: &ExecContext<'_>,
) -> Option<String> {
    let program = argv.first()?;
    if let Some(path) = replaceable_program(program, ctx) {
        return Some(format!(
            "`{program}` runs {}, a file inside a writable root that a command could have replaced",
            path.display()
        ));
    }
    let tool = tool_for(basename(program))?;
    let in_scope = |s: Scope| s == Scope::Any || network;

    for a in &ctx.assignments {
        let name = a.split_once('=').map_or(*a, |(n, _)| n);
        let listed = |pats: &[&str]| {
            pats.iter()
                .any(|p| wildcard_match(&p.to_ascii_lowercase(), &name.to_ascii_lowercase()))
        };
        if (listed(tool.env) || listed(COMMON_ENV)) && !listed(tool.env_harmless) {
            return Some(format!(
                "the assignment `{name}=…` configures {} (where it connects or what it runs)",
                tool.name
            ));
        }
    }

    let mut requirement_files = Vec::new();
    let mut i = 1;
    let mut options_done = false;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if !options_done && arg == "--" {
            options_done = true;
            continue;
        }
        if !options_done && arg.len() > 1 && arg.starts_with('-') {
            match option(tool, arg, argv.get(i).map(String::as_str)) {
                Parsed::Listed(opt, value, takes_next) => {
                    if takes_next {
                        i += 1;
                    }
                    if !in_scope(opt.scope) {
                        continue;
                    }
                    match opt.effect {
                        Effect::Withhold => {
                            return Some(format!("`{}` {}", opt.spelling, opt.why));
                        }
                        Effect::RequirementsFile => match value {
                            Some(v) => requirement_files.push((opt.spelling, v)),
                            None => {
                                return Some(format!("`{}` without a file", opt.spelling));
                            }
                        },
                    }
                }
                Parsed::Value { takes_next } => {
                    if takes_next {
                        i += 1;
                    }
                }
                Parsed::Other => {}
            }
            continue;
        }
        // Operands after the subcommand (argv[1]).
        if tool.specs
            && i > 2
            && let Some(what) = spec_problem(arg)
        {
            return Some(format!(
                "the operand `{arg}` is {what}: {} would fetch or build what it names",
                tool.name
            ));
        }
    }

    for (spelling, file) in requirement_files {
        let path = ctx.paths.ctx.resolve(&file, Some(ctx.cwd));
        if let Some(why) = requirements_problem(&path) {
            return Some(format!("`{spelling} {file}`: {why}"));
        }
    }

    let inputs: Vec<&str> = tool
        .inputs
        .iter()
        .filter(|i| in_scope(i.scope))
        .map(|i| i.name)
        .collect();
    // A call decided earlier in the turn runs first and could write any
    // input: a network grant waits for the next turn, when the files can
    // be looked at. (A build grant does not: what the tool runs then runs
    // inside the sandbox, and two builds in one turn are routine.)
    if network && !inputs.is_empty() {
        let earlier = after
            .map(|a| format!("`{}`, earlier in the same script,", a.join(" ")))
            .or_else(|| {
                ctx.writes
                    .pending()
                    .map(|w| format!("`{w}`, decided earlier in this turn,"))
            });
        if let Some(earlier) = earlier {
            return Some(format!(
                "{earlier} runs first and may write its {}",
                inputs.join(", ")
            ));
        }
    }
    for dir in ctx.dirs.iter().filter(|_| !inputs.is_empty()) {
        let shown = |p: &Path| {
            let rel = p.strip_prefix(&ctx.paths.ctx.workspace).unwrap_or(p);
            match rel.display().to_string() {
                s if s.is_empty() => ".".to_owned(),
                s => s,
            }
        };
        // With the network, every input anywhere in the workspace (members'
        // manifests, subprojects' lockfiles: a walk); for a build grant the
        // configuration files the tool discovers above its directory.
        let found = if network {
            ctx.writes.written(dir, &inputs)
        } else {
            ctx.writes.written_near(dir, &inputs)
        };
        match found {
            Some(Written::File(path)) => {
                return Some(format!(
                    "`{}` was written in this run, and it {}",
                    shown(&path),
                    tool.why_inputs
                ));
            }
            Some(Written::Unknown(dir)) => {
                return Some(format!(
                    "{} runs in {}, where warden cannot tell whether its {} changed in this run",
                    tool.name,
                    shown(&dir),
                    inputs.join(", ")
                ));
            }
            None => {}
        }
    }
    None
}

/// Every file name or suffix an input of [`TOOLS`] uses (what a run's
/// start snapshot records).
pub fn tracked_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = TOOLS
        .iter()
        .flat_map(|t| t.inputs.iter().map(|i| i.name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn tool_for(program: &str) -> Option<&'static Tool> {
    TOOLS
        .iter()
        .find(|t| t.programs.iter().any(|p| wildcard_match(p, program)))
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The part of `PATH` that can lead to a replaceable program: the entries
/// up to the last one that is relative or inside a writable root (none in
/// the usual setup, so a bare program name costs no system call). Computed
/// once per pipeline: warden's `PATH` is the commands' `PATH`.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    entries: Vec<PathBuf>,
}

impl SearchPath {
    pub fn new(paths: &PathPolicy) -> Self {
        Self::from(paths, std::env::var_os("PATH").as_deref())
    }

    fn from(paths: &PathPolicy, path: Option<&std::ffi::OsStr>) -> Self {
        let entries: Vec<PathBuf> =
            path.map_or_else(Vec::new, |p| std::env::split_paths(p).collect());
        let risky = |d: &PathBuf| !d.is_absolute() || paths.write_target(d) != WriteTarget::Outside;
        let keep = entries.iter().rposition(risky).map_or(0, |last| last + 1);
        SearchPath {
            entries: entries[..keep].to_vec(),
        }
    }
}

/// The file `program` would run when it lies inside a writable root (the
/// path as given, or its first hit on `PATH`).
fn replaceable_program(program: &str, ctx: &ExecContext<'_>) -> Option<PathBuf> {
    let writable = |p: &Path| ctx.paths.write_target(p) == WriteTarget::Inside;
    if program.contains('/') {
        let p = ctx.paths.ctx.resolve(program, Some(ctx.cwd));
        return writable(&p).then_some(p);
    }
    for dir in &ctx.search_path.entries {
        let candidate = ctx.cwd.join(dir).join(program);
        if std::fs::symlink_metadata(&candidate).is_ok() {
            return writable(&candidate).then_some(candidate);
        }
    }
    None
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod search_path_tests {
    use super::*;
    use crate::config::{LoadOptions, load};
    use crate::policy::paths::PathContext;

    #[test]
    fn only_path_entries_up_to_a_writable_or_relative_one_are_searched() {
        let config = load(&LoadOptions::builtin("ci")).unwrap().config;
        let ctx = PathContext {
            workspace: "/w".into(),
            home: "/h".into(),
        };
        let paths = PathPolicy::new(&config, ctx).unwrap();
        let of = |p: &str| SearchPath::from(&paths, Some(std::ffi::OsStr::new(p))).entries;
        assert!(of("/usr/local/bin:/usr/bin:/bin").is_empty());
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            of("/usr/bin:/w/node_modules/.bin:/bin"),
            [p("/usr/bin"), p("/w/node_modules/.bin")]
        );
        assert_eq!(of("/usr/bin:.:/bin"), [p("/usr/bin"), p(".")]);
        assert_eq!(of("/usr/bin::/bin"), [p("/usr/bin"), p("")]);
    }
}

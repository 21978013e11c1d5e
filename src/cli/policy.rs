//! `warden policy test`: run policy fixtures against a profile.

use std::path::PathBuf;

use clap::Subcommand;

use super::GlobalArgs;
use super::session::string_override;
use super::session::{Session, runtime};
use crate::error::{Error, ExitStatus};
use crate::judge::Judge;
use crate::policy::fixtures::{self, CaseResult};
use crate::review::ReviewContext;

const EXAMPLES: &str = "\
Fixture format (YAML):
  profile: dev            # optional; --profile overrides
  reviewer: rules         # optional; --reviewer overrides
  cases:
    - name: run tests
      action: { kind: exec, command: [cargo, test] }
      expect: allow        # run | approve | deny | escalate | allow (= run or approve), or a list
      expect_in: { review: deny }   # optional per-profile expectation
      profiles: [ci, dev]           # optional: only under these profiles
      written: [package-lock.json]  # optional: files the agent wrote earlier in the run

Examples:
  warden policy test tests/fixtures/policy/*.yaml --profile ci
  warden policy test my-policy.yaml --reviewer rules --junit policy.xml

Exit codes: 0 every case passed; 1 a case mismatched (each mismatch is
printed with its layer trace); 2 a fixture or config could not be read.";

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run policy fixtures: each case's action must reach the expected outcome.
    #[command(after_help = EXAMPLES)]
    Test {
        /// Fixture files (YAML).
        #[arg(required = true, value_name = "FIXTURES.yaml")]
        files: Vec<PathBuf>,
        /// Profile to test against (overrides each file's `profile`).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Reviewer (user, auto_review, rules); overrides each file's `reviewer`.
        #[arg(long, value_name = "R")]
        reviewer: Option<String>,
        /// Also write a JUnit XML report to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print every case, not only mismatches.
        #[arg(long)]
        verbose_cases: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: PolicyCommand) -> Result<ExitStatus, Error> {
    let PolicyCommand::Test {
        files,
        profile,
        reviewer,
        junit,
        verbose_cases,
    } = cmd;
    let rt = runtime()?;
    let mut suites: Vec<(String, Vec<CaseResult>)> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::usage(format!("cannot read {}: {e}", file.display())))?;
        let fixture = fixtures::parse(file, &text).map_err(Error::Usage)?;
        let profile_name = profile
            .clone()
            .or(fixture.profile.clone())
            .unwrap_or_else(|| "dev".to_owned());
        let mut overrides = Vec::new();
        if let Some(r) = reviewer.as_ref().or(fixture.reviewer.as_ref()) {
            overrides.push(string_override("approvals_reviewer", r));
        }
        let session = Session::open(global, Some(&profile_name), &overrides)?;
        let reviewer = session.reviewer(None)?;
        let judge = Judge::new(session.pipeline, reviewer);
        let ctx = ReviewContext::default();
        let mut results = Vec::new();
        for case in &fixture.cases {
            let Some(expected) = case.expectation_for(&profile_name) else {
                continue;
            };
            let writes = case.writes(&judge.pipeline().path_policy().ctx);
            let decision = rt.block_on(judge.evaluate(&case.action, &writes, &ctx));
            let result = CaseResult {
                name: case.name.clone(),
                profile: profile_name.clone(),
                expected: expected.clone(),
                decision,
            };
            if !result.passed() {
                println!(
                    "MISMATCH {} [{}] {}: {}\n  action: {}\n{}",
                    file.display(),
                    profile_name,
                    case.name,
                    fixtures::mismatch_line(&result),
                    case.action.summary(),
                    indent(&fixtures::trace_text(&result.decision))
                );
            } else if verbose_cases {
                println!(
                    "ok {} [{}] {}: {}",
                    file.display(),
                    profile_name,
                    case.name,
                    result.decision.outcome
                );
            }
            results.push(result);
        }
        suites.push((file.display().to_string(), results));
    }
    let total: usize = suites.iter().map(|(_, r)| r.len()).sum();
    let failed: usize = suites
        .iter()
        .map(|(_, r)| r.iter().filter(|x| !x.passed()).count())
        .sum();
    if let Some(path) = junit {
        std::fs::write(&path, fixtures::junit(&suites))
            .map_err(|e| Error::usage(format!("cannot write {}: {e}", path.display())))?;
    }
    println!("policy: {} passed, {} failed", total - failed, failed);
    Ok(if failed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}\n"))
        .collect::<String>()
}

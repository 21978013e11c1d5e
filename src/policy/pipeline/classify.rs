//! Steps 1–3 by action kind: a final decision (forbidden, routine run,
//! pre-approved) or a boundary crossing with its categories and what it
//! asks for. Each kind has its own function; exec and MCP calls, which have
//! rules of their own, live in [`super::exec`] and [`super::mcp`]. Imports
//! what [`super`] does.

use crate::action::Action;
use crate::config::{NetworkMode, SandboxMode};
use crate::decision::{Category, Decision, Grants, Layer, StepResult, TraceStep};
use crate::policy::paths::WriteTarget;
use crate::policy::review_rules::Facts;
use crate::policy::run_writes::RunWrites;

use super::{Pipeline, step};

/// Steps 1–3 either decide, or find a boundary crossing.
pub(super) enum Classified {
    Decided(Box<Decision>),
    Crosses(Crossing),
}

pub(super) fn decided(d: Decision) -> Classified {
    Classified::Decided(Box::new(d))
}

/// A boundary crossing, for steps 4–5.
pub(super) struct Crossing {
    /// Every category the action crosses, the first one being reviewed.
    pub(super) categories: Vec<Category>,
    /// What an approval would grant.
    pub(super) requested: Grants,
    /// Why an allow rule's pre-approval does not apply, when that made
    /// this a crossing.
    pub(super) withheld: Option<String>,
}

impl Crossing {
    pub(super) fn one(category: Category, requested: Grants) -> Self {
        Crossing {
            categories: vec![category],
            requested,
            withheld: None,
        }
    }

    /// A crossing of `category` found by the sandbox layer, which says why.
    fn found(
        trace: &mut Vec<TraceStep>,
        category: Category,
        requested: Grants,
        why: String,
    ) -> Classified {
        trace.push(step(Layer::Sandbox, StepResult::Crossing, None, why));
        Classified::Crosses(Crossing::one(category, requested))
    }
}

/// Step 3 decided: the action runs inside the sandbox, no review.
pub(super) fn run_inside(trace: &mut Vec<TraceStep>, why: &str) -> Decision {
    Decision::run(Layer::Sandbox)
        .reason(why)
        .step(why)
        .after(trace)
}

impl Pipeline {
    /// Steps 1–3 for any action.
    pub(super) fn classify(
        &self,
        action: &Action,
        writes: &RunWrites,
        facts: &mut Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        match action {
            Action::Exec {
                command,
                cwd,
                escalate,
            } => self.classify_exec(
                command,
                cwd.as_deref(),
                escalate.as_ref(),
                writes,
                facts,
                trace,
            ),
            Action::Read { path } => self.classify_read(path, facts, trace),
            Action::Write { path } => self.classify_write(path, facts, trace),
            Action::Network { host, .. } => self.classify_network(host, facts, trace),
            Action::Mcp {
                server,
                tool,
                annotations,
                ..
            } => self.classify_mcp(action, server, tool, annotations.is_read_only(), trace),
            Action::RequestPermissions {
                writable_roots,
                hosts,
                ..
            } => self.classify_request_permissions(writable_roots, hosts, facts, trace),
            Action::Skill { name, script, .. } => classify_skill(name, script.as_deref(), trace),
        }
    }

    /// The real path a file tool names, recorded for the review rules.
    fn file_fact(&self, path: &std::path::Path, facts: &mut Facts) -> std::path::PathBuf {
        let p = self.paths.ctx.resolve_real(&path.to_string_lossy(), None);
        facts.paths.push(p.clone());
        facts.requested_paths.push(p.clone());
        p
    }

    /// A file read: a crossing only for a deny-read path.
    fn classify_read(
        &self,
        path: &std::path::Path,
        facts: &mut Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        let p = self.file_fact(path, facts);
        if self.paths.is_deny_read(&p) {
            let why = format!("{} is deny-read", p.display());
            Crossing::found(trace, Category::SandboxApproval, Grants::default(), why)
        } else {
            decided(run_inside(trace, "read inside the sandbox"))
        }
    }

    /// A file write: a crossing outside the writable roots or onto a
    /// protected path, asking to write exactly that path.
    fn classify_write(
        &self,
        path: &std::path::Path,
        facts: &mut Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        let p = self.file_fact(path, facts);
        let target = self.paths.write_target(&p);
        if target == WriteTarget::Inside {
            return decided(run_inside(trace, "write inside a writable root"));
        }
        let why = if target == WriteTarget::Protected {
            format!("{} is protected", p.display())
        } else {
            format!("{} is outside the writable roots", p.display())
        };
        let requested = Grants {
            write: vec![p],
            ..Grants::default()
        };
        Crossing::found(trace, Category::SandboxApproval, requested, why)
    }

    /// A network request: a crossing unless the profile's network is on.
    fn classify_network(
        &self,
        host: &str,
        facts: &mut Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        facts.hosts.push(host.to_ascii_lowercase());
        if self.config.sandbox.network == NetworkMode::On
            || self.config.sandbox_mode == SandboxMode::DangerFullAccess
        {
            return decided(run_inside(trace, "network is on in this profile"));
        }
        let requested = Grants {
            network: vec![host.to_ascii_lowercase()],
            ..Grants::default()
        };
        Crossing::found(
            trace,
            Category::SandboxApproval,
            requested,
            "network is off".into(),
        )
    }

    /// A request for more permissions: always a crossing.
    fn classify_request_permissions(
        &self,
        writable_roots: &[std::path::PathBuf],
        hosts: &[String],
        facts: &mut Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        for r in writable_roots {
            facts
                .paths
                .push(self.paths.ctx.resolve(&r.to_string_lossy(), None));
        }
        facts
            .hosts
            .extend(hosts.iter().map(|h| h.to_ascii_lowercase()));
        let requested = Grants {
            network: hosts.to_vec(),
            write: writable_roots.to_vec(),
            ..Grants::default()
        };
        Crossing::found(
            trace,
            Category::RequestPermissions,
            requested,
            "asks for more permissions".into(),
        )
    }
}

/// A skill script: a crossing, or denied when its name is not a plain name
/// inside a skills directory.
fn classify_skill(name: &str, script: Option<&str>, trace: &mut Vec<TraceStep>) -> Classified {
    let bad = |s: &str| s.is_empty() || s.contains('/') || s.contains("..") || s.starts_with('.');
    if bad(name) || script.is_some_and(bad) {
        return decided(
            Decision::deny(Layer::CommandRules)
                .category(Category::SkillApproval)
                .reason(format!(
                    "skill name `{name}` is not a plain name inside a skills directory"
                ))
                .step("invalid skill name")
                .after(trace),
        );
    }
    Crossing::found(
        trace,
        Category::SkillApproval,
        Grants::default(),
        "skills need approval".into(),
    )
}

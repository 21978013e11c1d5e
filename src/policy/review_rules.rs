//! Structured review rules, compiled once per run.
//!
//! A rule matches when every condition it states holds (within a condition,
//! any listed value may match). Among matching rules the strictest decides:
//! deny > escalate > approve; on a tie the first rule in order wins, and
//! managed rules come first, so the reported source is the managed one.
//!
//! Step 5a of the pipeline, deterministic, so it lives in `policy` (the
//! pipeline consults it before any reviewer); it may import `config`,
//! `action`, `decision` and the rest of `policy`.

use std::path::PathBuf;
use std::sync::OnceLock;

use globset::{GlobMatcher, GlobSet, GlobSetBuilder};

use crate::action::{Action, ActionKind};
use crate::config::globs::{self, GlobKind};
use crate::config::{ReviewDecision, ReviewRule};
use crate::decision::Category;
use crate::policy::command_rules::basename;
use crate::policy::paths::{PathContext, PathSet};
use crate::policy::wrappers::Invocation;

/// What an action touches, gathered once and matched against every rule.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub invocations: Vec<Invocation>,
    /// Every path the action mentions (for exec: every argument that may
    /// name a file). Deny and escalate rules match if any of them matches.
    pub paths: Vec<PathBuf>,
    /// The paths the action asks to touch beyond the sandbox (write and read
    /// targets, escalation write paths, requested roots). An approve rule
    /// with a path condition needs every one of them to match.
    pub requested_paths: Vec<PathBuf>,
    pub hosts: Vec<String>,
}

struct Compiled {
    paths: Option<PathSet>,
    hosts: Option<GlobSet>,
    mcp_server: Option<GlobSet>,
    mcp_tool: Option<GlobSet>,
    mcp_arguments: Vec<(String, GlobMatcher)>,
}

/// The review rules of a config, ready to match. Each rule's globs are
/// compiled the first time a decision reaches its glob conditions (after
/// its kinds, categories and command matched): most decisions never reach
/// step 5a, and compiling every rule's globs up front was ≈ a tenth of a
/// `warden check`. Their syntax was checked where the configuration wrote
/// them (`config::globs`); a rule whose globs still fail to compile here
/// (the home directory's own name can make one invalid) decides as
/// strictly as it can: a deny or escalate rule matches, an approve rule
/// does not.
pub struct ReviewRules {
    rules: Vec<ReviewRule>,
    compiled: Vec<OnceLock<Result<Compiled, String>>>,
    ctx: PathContext,
}

fn globset(patterns: &[String], kind: GlobKind) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let glob = globs::compile(p, kind).map_err(|e| format!("invalid glob `{p}`: {e}"))?;
        b.add(glob);
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

impl Compiled {
    fn new(r: &ReviewRule, ctx: &PathContext) -> Result<Self, String> {
        let mut args = Vec::new();
        for (k, v) in &r.mcp_arguments {
            let m = globs::compile(v, GlobKind::Name)
                .map_err(|e| format!("{}: invalid glob `{v}`: {e}", r.source))?
                .compile_matcher();
            args.push((k.clone(), m));
        }
        Ok(Compiled {
            paths: if r.path.is_empty() {
                None
            } else {
                Some(PathSet::new(&r.path, ctx).map_err(|e| format!("{}: {e}", r.source))?)
            },
            hosts: globset(&r.host, GlobKind::Host).map_err(|e| format!("{}: {e}", r.source))?,
            mcp_server: globset(&r.mcp_server, GlobKind::Name)
                .map_err(|e| format!("{}: {e}", r.source))?,
            mcp_tool: globset(&r.mcp_tool, GlobKind::Name)
                .map_err(|e| format!("{}: {e}", r.source))?,
            mcp_arguments: args,
        })
    }
}

impl ReviewRules {
    pub fn new(rules: &[ReviewRule], ctx: &PathContext) -> Self {
        ReviewRules {
            rules: rules.to_vec(),
            compiled: rules.iter().map(|_| OnceLock::new()).collect(),
            ctx: ctx.clone(),
        }
    }

    /// The strictest matching rule, if any.
    pub fn decide(
        &self,
        action: &Action,
        category: Category,
        facts: &Facts,
    ) -> Option<&ReviewRule> {
        let mut best: Option<&ReviewRule> = None;
        for (rule, c) in self.rules.iter().zip(&self.compiled) {
            let compiled = || c.get_or_init(|| Compiled::new(rule, &self.ctx));
            if matches(rule, compiled, action, category, facts)
                && best.is_none_or(|b| rule.decision > b.decision)
            {
                best = Some(rule);
                if rule.decision == ReviewDecision::Deny {
                    break; // nothing is stricter; keep the first deny's source
                }
            }
        }
        best
    }
}

fn matches<'c>(
    rule: &ReviewRule,
    compiled: impl FnOnce() -> &'c Result<Compiled, String>,
    action: &Action,
    category: Category,
    facts: &Facts,
) -> bool {
    if !rule.kinds.is_empty() && !rule.kinds.contains(&action.kind()) {
        return false;
    }
    if !rule.categories.is_empty() && !rule.categories.contains(&category) {
        return false;
    }
    if let Some(pattern) = &rule.command {
        let hit = facts.invocations.iter().any(|inv| {
            inv.argv.len() >= pattern.len()
                && pattern.iter().enumerate().all(|(i, t)| {
                    t.matches(&inv.argv[i]) || (i == 0 && t.matches(basename(&inv.argv[i])))
                })
        });
        if !hit {
            return false;
        }
    }
    let approve = rule.decision == ReviewDecision::Approve;
    let c = match compiled() {
        Ok(c) => c,
        Err(why) => {
            // Fail closed (see [`ReviewRules`]).
            tracing::warn!("review rule {}: {why}", rule.source);
            return !approve;
        }
    };
    // Deny and escalate match when anything the action touches matches;
    // approve only when everything it asks for is covered (fail closed:
    // `curl crates.io evil.example` is not approved by a crates.io rule).
    if let Some(paths) = &c.paths {
        let hit = if approve {
            !facts.requested_paths.is_empty()
                && facts.requested_paths.iter().all(|p| paths.contains(p))
        } else {
            facts.paths.iter().any(|p| paths.contains(p))
        };
        if !hit {
            return false;
        }
    }
    if let Some(hosts) = &c.hosts {
        let hit = if approve {
            !facts.hosts.is_empty() && facts.hosts.iter().all(|h| hosts.is_match(h))
        } else {
            facts.hosts.iter().any(|h| hosts.is_match(h))
        };
        if !hit {
            return false;
        }
    }
    let mcp = match action {
        Action::Mcp {
            server,
            tool,
            arguments,
            ..
        } => Some((server, tool, arguments)),
        _ => None,
    };
    let wants_mcp = c.mcp_server.is_some() || c.mcp_tool.is_some() || !c.mcp_arguments.is_empty();
    if wants_mcp {
        let Some((server, tool, arguments)) = mcp else {
            return false;
        };
        if c.mcp_server
            .as_ref()
            .is_some_and(|g| !g.is_match(server.as_str()))
        {
            return false;
        }
        if c.mcp_tool
            .as_ref()
            .is_some_and(|g| !g.is_match(tool.as_str()))
        {
            return false;
        }
        for (key, glob) in &c.mcp_arguments {
            let value = match arguments.get(key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return false,
            };
            if !glob.is_match(value.as_str()) {
                return false;
            }
        }
    }
    // An exec-only condition on a non-exec action never matches.
    if rule.command.is_some() && action.kind() != ActionKind::Exec {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Source;
    use std::collections::BTreeMap;

    fn rule(decision: ReviewDecision, path: &[&str]) -> ReviewRule {
        ReviewRule {
            decision,
            kinds: vec![],
            categories: vec![],
            command: None,
            path: path.iter().map(|p| p.to_string()).collect(),
            host: vec![],
            mcp_server: vec![],
            mcp_tool: vec![],
            mcp_arguments: BTreeMap::new(),
            reason: "r".into(),
            source: Source {
                file: "t.toml".into(),
                line: 1,
                column: None,
            },
            managed: false,
        }
    }

    fn read(path: &str) -> (Action, Facts) {
        let facts = Facts {
            paths: vec![PathBuf::from(path)],
            requested_paths: vec![PathBuf::from(path)],
            ..Facts::default()
        };
        (Action::Read { path: path.into() }, facts)
    }

    #[test]
    fn globs_are_compiled_when_a_decision_first_reaches_them() {
        let ctx = PathContext {
            workspace: PathBuf::from("/ws"),
            home: PathBuf::from("/home/u"),
        };
        let rules = ReviewRules::new(&[rule(ReviewDecision::Deny, &["~/.ssh/**"])], &ctx);
        assert!(rules.compiled[0].get().is_none(), "compiled up front");
        let (action, facts) = read("/home/u/.ssh/id_rsa");
        assert!(rules.decide(&action, Category::Rules, &facts).is_some());
        assert!(matches!(rules.compiled[0].get(), Some(Ok(_))));
        let (action, facts) = read("/home/u/notes.txt");
        assert!(rules.decide(&action, Category::Rules, &facts).is_none());
    }

    #[test]
    fn a_rule_whose_globs_do_not_compile_decides_as_strictly_as_it_can() {
        // The home directory's own name makes `~/…` an invalid glob.
        let ctx = PathContext {
            workspace: PathBuf::from("/ws"),
            home: PathBuf::from("/home/a[b"),
        };
        let (action, facts) = read("/etc/hostname");
        for (decision, decides) in [
            (ReviewDecision::Deny, true),
            (ReviewDecision::Escalate, true),
            (ReviewDecision::Approve, false),
        ] {
            let rules = ReviewRules::new(&[rule(decision, &["~/.cache/*"])], &ctx);
            assert_eq!(
                rules.decide(&action, Category::Rules, &facts).is_some(),
                decides,
                "{decision:?}"
            );
            assert!(matches!(rules.compiled[0].get(), Some(Err(_))));
        }
    }
}

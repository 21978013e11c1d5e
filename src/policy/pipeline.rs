//! The decision pipeline for one action (DESIGN "The decision pipeline"):
//!
//! 1. managed command rules: `forbidden` → deny;
//! 2. profile command rules (strictest wins across every command a script or
//!    wrapper leads to); an `allow` pre-approves what the rule grants, only
//!    for fully understood, unwrapped commands;
//! 3. inside the sandbox and no `prompt` → run, no review;
//! 4. a boundary crossing gets a category; a category set to `false` →
//!    auto-reject;
//! 5. structured review rules (managed, then profile), then the reviewer:
//!    `auto_review` (LLM), `user` (escalates: nobody answers in CI) or
//!    `rules` (what no rule decides escalates).
//!
//! Steps 1–5 up to the LLM are synchronous and allocation-light
//! ([`Pipeline::prejudge`]); the LLM call, the only async step, is the
//! judge's (`judge::ask_reviewer`): this module never imports `review`.

use crate::action::{Action, Escalation};
use crate::config::{
    CommandRule, Config, McpServerConfig, ReviewDecision, ReviewerKind, RuleDecision, SandboxMode,
    Trust,
};
use crate::decision::{Category, Decision, Grants, Layer, Outcome, Source, TraceStep};
use crate::policy::review_rules::{Facts, ReviewRules};

use super::command_rules::{CommandView, RuleIndex};
use super::paths::{PathContext, PathPolicy, PathSet, WriteTarget, exec_hosts};
use super::preapproval::{ExecContext, SearchPath, exception};
use super::predict::predict;
use super::run_writes::RunWrites;
use super::wrappers::analyze_exec;

/// A configuration compiled for deciding actions.
pub struct Pipeline {
    config: Config,
    paths: PathPolicy,
    review_rules: ReviewRules,
    /// Command rules by program name.
    rule_index: RuleIndex,
    /// `grants.write` of each command rule, compiled (same order as rules).
    rule_write_grants: Vec<PathSet>,
    /// Where a bare program name could resolve to a replaceable file.
    search_path: SearchPath,
}

/// How the trace step of a withheld pre-approval begins.
const WITHHELD: &str = "pre-approval of the allow rule at ";

/// Whether `decision` is a crossing only because an allow rule's
/// pre-approval was withheld: its answer depends on what the run wrote,
/// so no verdict on it may be reused for a later identical action.
pub fn preapproval_withheld(decision: &Decision) -> bool {
    withheld_preapproval(decision).is_some()
}

/// The trace step saying why an allow rule's pre-approval was withheld,
/// when that is what made `decision` a crossing (shown to a reviewer).
pub fn withheld_preapproval(decision: &Decision) -> Option<&str> {
    decision
        .trace
        .iter()
        .find(|t| t.layer == Layer::Sandbox && t.detail.starts_with(WITHHELD))
        .map(|t| t.detail.as_str())
}

/// The result of the deterministic layers.
#[derive(Debug, Clone)]
pub enum Prejudged {
    /// Decided without the LLM.
    Final(Decision),
    /// A boundary crossing for the auto-reviewer; the decision so far
    /// (category, trace, requested grants) is carried along.
    NeedsReviewer(Decision),
}

impl Pipeline {
    pub fn new(config: &Config, ctx: PathContext) -> Result<Self, String> {
        let paths = PathPolicy::new(config, ctx)?;
        let review_rules = ReviewRules::new(&config.review_rules, &paths.ctx)?;
        let rule_write_grants = config
            .command_rules
            .iter()
            .map(|r| PathSet::new(&r.grants.write, &paths.ctx))
            .collect::<Result<_, _>>()?;
        Ok(Pipeline {
            search_path: SearchPath::new(&paths),
            config: config.clone(),
            paths,
            review_rules,
            rule_index: RuleIndex::new(&config.command_rules),
            rule_write_grants,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn path_policy(&self) -> &PathPolicy {
        &self.paths
    }

    /// What `action` asks for beyond the sandbox (what an approval of it
    /// would grant). Used for human overrides of a kept denial.
    pub fn requested_grants(&self, action: &Action) -> Grants {
        let mut trace = Vec::new();
        let mut facts = Facts::default();
        match self.classify(action, &RunWrites::nothing(), &mut facts, &mut trace) {
            Classified::Crosses(c) => c.requested,
            Classified::Decided(d) => d.grants,
        }
    }

    /// The granular category of `action` if it crosses the sandbox
    /// boundary, `None` if steps 1–3 decide it (routine run, forbidden,
    /// pre-approved). `warden mcp list` uses it to tell a forbidden tool
    /// from one whose calls are adjudicated.
    pub fn crossing_category(&self, action: &Action) -> Option<Category> {
        let mut trace = Vec::new();
        let mut facts = Facts::default();
        match self.classify(action, &RunWrites::nothing(), &mut facts, &mut trace) {
            Classified::Crosses(c) => c.categories.first().copied(),
            Classified::Decided(_) => None,
        }
    }

    /// Every deterministic layer. Never blocks, never calls out.
    pub fn prejudge(&self, action: &Action) -> Prejudged {
        self.prejudge_in_run(action, &RunWrites::nothing())
    }

    /// [`Pipeline::prejudge`] within a run whose writes so far are `writes`.
    pub fn prejudge_in_run(&self, action: &Action, writes: &RunWrites) -> Prejudged {
        let mut trace = Vec::new();
        let mut facts = Facts::default();
        let crossing = match self.classify(action, writes, &mut facts, &mut trace) {
            Classified::Crosses(c) => c,
            Classified::Decided(decision) => return Prejudged::Final(*decision),
        };
        let Crossing {
            categories,
            requested,
            withheld,
        } = crossing;
        let Some(&category) = categories.first() else {
            unreachable!("classify returns Err for routine actions")
        };

        // Step 4: granular categories.
        if let Some(&off) = categories
            .iter()
            .find(|c| !self.config.approval_policy.allows(**c))
        {
            let (why, source) = crossing_cause(&trace, off);
            trace.push(step(
                Layer::AutoReject,
                "deny",
                None,
                format!("{off} = false"),
            ));
            return Prejudged::Final(Decision {
                outcome: Outcome::Deny,
                category: Some(off),
                layer: Layer::AutoReject,
                source,
                reason: format!(
                    "{why}; approval category `{off}` is false in this profile, so it is rejected without review"
                ),
                grants: Grants::default(),
                reviewer: None,
                trace,
            });
        }

        // Step 5a: structured review rules.
        {
            if let Some(rule) = self.review_rules.decide(action, category, &facts) {
                let layer = if rule.managed {
                    Layer::Requirements
                } else {
                    Layer::ReviewRules
                };
                let outcome = match rule.decision {
                    ReviewDecision::Approve => Outcome::Approve,
                    ReviewDecision::Deny => Outcome::Deny,
                    ReviewDecision::Escalate => Outcome::Escalate,
                };
                trace.push(step(
                    layer,
                    rule.decision.as_str(),
                    Some(rule.source.clone()),
                    rule.reason.clone(),
                ));
                return Prejudged::Final(Decision {
                    outcome,
                    category: Some(category),
                    layer,
                    source: Some(rule.source.clone()),
                    reason: if rule.reason.is_empty() {
                        format!(
                            "review rule at {} says {}",
                            rule.source,
                            rule.decision.as_str()
                        )
                    } else {
                        rule.reason.clone()
                    },
                    grants: if outcome == Outcome::Approve {
                        requested
                    } else {
                        Grants::default()
                    },
                    reviewer: None,
                    trace,
                });
            }
            trace.push(step(Layer::ReviewRules, "no match", None, String::new()));
        }

        // Step 5b: the reviewer.
        let (outcome, layer, reason) = match self.config.approvals_reviewer {
            ReviewerKind::User => (
                Outcome::Escalate,
                Layer::User,
                "approvals_reviewer = \"user\": a human must decide, and nobody answers in CI; the request is reported and not executed".to_owned(),
            ),
            ReviewerKind::Rules => (
                Outcome::Escalate,
                Layer::NoRule,
                "no review rule decides this request (approvals_reviewer = \"rules\"); it escalates to a human".to_owned(),
            ),
            ReviewerKind::AutoReview => {
                return Prejudged::NeedsReviewer(Decision {
                    outcome: Outcome::Escalate,
                    category: Some(category),
                    layer: Layer::AutoReview,
                    source: None,
                    reason: "pending auto-review".into(),
                    grants: requested,
                    reviewer: None,
                    trace,
                });
            }
        };
        // Say why a command its allow rule would have pre-approved is here.
        let reason = match withheld {
            Some(why) => format!("{why}; {reason}"),
            None => reason,
        };
        trace.push(step(layer, outcome.as_str(), None, reason.clone()));
        Prejudged::Final(Decision {
            outcome,
            category: Some(category),
            layer,
            source: None,
            reason,
            grants: Grants::default(),
            reviewer: None,
            trace,
        })
    }

    /// Steps 1–3: a final decision (forbidden, routine run, pre-approved) or
    /// a boundary crossing.
    fn classify(
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
            Action::Read { path } => {
                let p = self.paths.ctx.resolve_real(&path.to_string_lossy(), None);
                facts.paths.push(p.clone());
                facts.requested_paths.push(p.clone());
                if self.paths.is_deny_read(&p) {
                    trace.push(step(
                        Layer::Sandbox,
                        "crossing",
                        None,
                        format!("{} is deny-read", p.display()),
                    ));
                    Classified::Crosses(Crossing::one(Category::SandboxApproval, Grants::default()))
                } else {
                    decided(run_inside(trace, "read inside the sandbox"))
                }
            }
            Action::Write { path } => {
                let p = self.paths.ctx.resolve_real(&path.to_string_lossy(), None);
                facts.paths.push(p.clone());
                facts.requested_paths.push(p.clone());
                match self.paths.write_target(&p) {
                    WriteTarget::Inside => {
                        decided(run_inside(trace, "write inside a writable root"))
                    }
                    target => {
                        let why = if target == WriteTarget::Protected {
                            format!("{} is protected", p.display())
                        } else {
                            format!("{} is outside the writable roots", p.display())
                        };
                        trace.push(step(Layer::Sandbox, "crossing", None, why));
                        Classified::Crosses(Crossing::one(
                            Category::SandboxApproval,
                            Grants {
                                write: vec![p],
                                ..Grants::default()
                            },
                        ))
                    }
                }
            }
            Action::Network { host, .. } => {
                facts.hosts.push(host.to_ascii_lowercase());
                if self.config.sandbox.network == crate::config::NetworkMode::On
                    || self.config.sandbox_mode == SandboxMode::DangerFullAccess
                {
                    decided(run_inside(trace, "network is on in this profile"))
                } else {
                    trace.push(step(
                        Layer::Sandbox,
                        "crossing",
                        None,
                        "network is off".into(),
                    ));
                    Classified::Crosses(Crossing::one(
                        Category::SandboxApproval,
                        Grants {
                            network: vec![host.to_ascii_lowercase()],
                            ..Grants::default()
                        },
                    ))
                }
            }
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
            } => {
                for r in writable_roots {
                    facts
                        .paths
                        .push(self.paths.ctx.resolve(&r.to_string_lossy(), None));
                }
                facts
                    .hosts
                    .extend(hosts.iter().map(|h| h.to_ascii_lowercase()));
                trace.push(step(
                    Layer::Sandbox,
                    "crossing",
                    None,
                    "asks for more permissions".into(),
                ));
                Classified::Crosses(Crossing::one(
                    Category::RequestPermissions,
                    Grants {
                        network: hosts.clone(),
                        write: writable_roots.clone(),
                        ..Grants::default()
                    },
                ))
            }
            Action::Skill { name, script, .. } => {
                let bad = |s: &str| {
                    s.is_empty() || s.contains('/') || s.contains("..") || s.starts_with('.')
                };
                if bad(name) || script.as_deref().is_some_and(bad) {
                    trace.push(step(
                        Layer::CommandRules,
                        "deny",
                        None,
                        "invalid skill name".into(),
                    ));
                    return decided(final_decision(
                        Outcome::Deny,
                        Some(Category::SkillApproval),
                        Layer::CommandRules,
                        None,
                        format!(
                            "skill name `{name}` is not a plain name inside a skills directory"
                        ),
                        trace,
                    ));
                }
                trace.push(step(
                    Layer::Sandbox,
                    "crossing",
                    None,
                    "skills need approval".into(),
                ));
                Classified::Crosses(Crossing::one(Category::SkillApproval, Grants::default()))
            }
        }
    }

    fn classify_exec(
        &self,
        command: &[String],
        cwd: Option<&std::path::Path>,
        escalate: Option<&Escalation>,
        writes: &RunWrites,
        facts: &mut Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        if command.is_empty() {
            return decided(final_decision(
                Outcome::Deny,
                None,
                Layer::CommandRules,
                None,
                "empty command".into(),
                trace,
            ));
        }
        let analysis = analyze_exec(command);
        let base = cwd.map(|c| self.paths.ctx.resolve(&c.to_string_lossy(), None));

        // Steps 1–2: strictest rule over every invocation.
        let mut worst: Option<&CommandRule> = None;
        let mut all_allowed = !analysis.invocations.is_empty();
        let mut allow_rules: Vec<usize> = Vec::new();
        // (invocation, rule) pairs whose allow rule grants something.
        let mut granting: Vec<(usize, usize)> = Vec::new();
        for (n, inv) in analysis.invocations.iter().enumerate() {
            let view = CommandView {
                argv: &inv.argv,
                piped: inv.piped,
            };
            let found = self.rule_index.strictest(&self.config.command_rules, view);
            let rule = found.map(|i| &self.config.command_rules[i]);
            match found {
                Some(i) if self.config.command_rules[i].decision == RuleDecision::Allow => {
                    allow_rules.push(i);
                    let g = &self.config.command_rules[i].grants;
                    if g.network || !g.write.is_empty() {
                        granting.push((n, i));
                    }
                }
                _ => all_allowed = false,
            }
            if let Some(r) = rule
                && worst.is_none_or(|w| r.decision > w.decision)
            {
                worst = Some(r);
            }
        }

        if !analysis.fully_understood() {
            trace.push(step(
                Layer::CommandRules,
                "not fully understood",
                None,
                analysis.problems.join("; "),
            ));
        }

        if let Some(rule) = worst {
            let layer = if rule.managed {
                Layer::Requirements
            } else {
                Layer::CommandRules
            };
            trace.push(step(
                layer,
                rule.decision.as_str(),
                Some(rule.source.clone()),
                rule.justification.clone().unwrap_or_default(),
            ));
            if rule.decision == RuleDecision::Forbidden {
                return decided(final_decision(
                    Outcome::Deny,
                    Some(Category::Rules),
                    layer,
                    Some(rule.source.clone()),
                    rule.justification.clone().unwrap_or_else(|| {
                        format!("forbidden by the command rule at {}", rule.source)
                    }),
                    trace,
                ));
            }
        } else {
            trace.push(step(Layer::CommandRules, "no rule", None, String::new()));
        }

        // What the exec needs beyond the sandbox (secret reads, scrubbed
        // credentials, writes outside or onto protected paths): a crossing
        // even without an escalation request.
        let mut needs = predict(&analysis.invocations, &self.paths, base.as_deref());

        // Facts for the review rules (only consulted for a crossing).
        facts.paths.append(&mut needs.mentioned);
        for inv in &analysis.invocations {
            facts.hosts.extend(exec_hosts(&inv.argv));
        }
        if let Some(esc) = escalate {
            facts
                .hosts
                .extend(esc.network.iter().map(|h| h.to_ascii_lowercase()));
            for w in &esc.write {
                facts.paths.push(
                    self.paths
                        .ctx
                        .resolve(&w.to_string_lossy(), base.as_deref()),
                );
            }
        }
        facts.hosts.sort();
        facts.hosts.dedup();
        facts.paths.extend(needs.secret_reads.iter().cloned());
        facts.paths.extend(needs.writes.iter().cloned());
        facts.requested_paths.extend(needs.writes.iter().cloned());

        let prompt = worst.is_some_and(|r| r.decision == RuleDecision::Prompt);
        let danger = self.config.sandbox_mode == SandboxMode::DangerFullAccess;
        // An allow rule's grants apply only to commands warden fully
        // understands and that no wrapper runs (others run sandboxed
        // without them)...
        let understood = all_allowed && analysis.fully_understood() && !analysis.has_wrapper();
        // ...and whose options or inputs cannot choose where it connects or
        // what it runs (`--config`, `--index-url`, an agent-written
        // lockfile, …): such a command asks for what the rule would grant.
        let withheld = if understood && !danger {
            self.preapproval_exception(&analysis.invocations, &granting, base.as_deref(), writes)
        } else {
            None
        };
        let preapprovable = understood && withheld.is_none();
        facts.invocations = analysis.invocations;
        let rule_grants = if preapprovable {
            self.union_grants(&allow_rules)
        } else {
            RuleGrantSet::default()
        };

        let mut categories = Vec::new();
        if prompt {
            categories.push(Category::Rules);
        }
        let mut requested = Grants::default();
        if let Some(esc) = escalate.filter(|e| !e.is_empty())
            && !danger
        {
            requested = Grants {
                network: esc.network.clone(),
                any_network: false,
                write: esc
                    .write
                    .iter()
                    .map(|w| {
                        self.paths
                            .ctx
                            .resolve(&w.to_string_lossy(), base.as_deref())
                    })
                    .collect(),
                unsandboxed: esc.unsandboxed,
                create_dirs: Vec::new(),
            };
            let covered = preapprovable
                && !esc.unsandboxed
                && (esc.network.is_empty() || rule_grants.network)
                && requested.write.iter().all(|w| rule_grants.covers_write(w));
            if covered {
                trace.push(step(
                    Layer::CommandRules,
                    "pre-approved",
                    None,
                    "allow rule grants what the escalation asks".into(),
                ));
            } else {
                categories.push(Category::SandboxApproval);
                trace.push(step(
                    Layer::Sandbox,
                    "crossing",
                    None,
                    format!("escalation requested: {}", describe_escalation(esc)),
                ));
            }
        }
        if !needs.is_empty() {
            if !categories.contains(&Category::SandboxApproval) {
                categories.push(Category::SandboxApproval);
            }
            for w in &needs.writes {
                if !requested.write.contains(w) {
                    requested.write.push(w.clone());
                }
            }
            trace.push(step(Layer::Sandbox, "crossing", None, needs.describe()));
        }
        let withheld = withheld.map(|(why, rule)| {
            if !categories.contains(&Category::SandboxApproval) {
                categories.push(Category::SandboxApproval);
            }
            let rules: Vec<usize> = granting.iter().map(|&(_, r)| r).collect();
            let wanted = self.union_grants(&rules);
            requested.any_network |= rules
                .iter()
                .any(|&r| self.config.command_rules[r].grants.network);
            for w in wanted.write_paths {
                if !requested.write.contains(&w) {
                    requested.write.push(w);
                }
            }
            requested.create_dirs.extend(wanted.create_dirs);
            let source = self.config.command_rules[rule].source.clone();
            let detail = format!("{WITHHELD}{source} withheld: {why}");
            trace.push(step(
                Layer::Sandbox,
                "crossing",
                Some(source),
                detail.clone(),
            ));
            detail
        });

        if categories.is_empty() {
            let grants = if preapprovable && escalate.is_some_and(|e| !e.is_empty()) {
                requested
            } else if preapprovable && !danger {
                Grants {
                    any_network: rule_grants.network,
                    write: rule_grants.write_paths.clone(),
                    create_dirs: rule_grants.create_dirs.clone(),
                    ..Grants::default()
                }
            } else {
                Grants::default()
            };
            if grants.is_empty() {
                return decided(run_inside(
                    trace,
                    if danger {
                        "danger-full-access: runs without a sandbox"
                    } else {
                        "runs inside the sandbox"
                    },
                ));
            }
            let source = allow_rules
                .first()
                .map(|&i| self.config.command_rules[i].source.clone());
            trace.push(step(
                Layer::CommandRules,
                "approve",
                source.clone(),
                "allow rule pre-approves what the command needs".into(),
            ));
            let mut d = final_decision(
                Outcome::Approve,
                None,
                Layer::CommandRules,
                source,
                "an allow rule pre-approves what this command needs beyond the sandbox".into(),
                trace,
            );
            d.grants = grants;
            return decided(d);
        }
        Classified::Crosses(Crossing {
            categories,
            requested,
            withheld,
        })
    }

    /// The first pre-approval exception among the invocations an allow
    /// rule grants something to, with that rule.
    fn preapproval_exception(
        &self,
        invocations: &[crate::policy::wrappers::Invocation],
        granting: &[(usize, usize)],
        base: Option<&std::path::Path>,
        writes: &RunWrites,
    ) -> Option<(String, usize)> {
        if granting.is_empty() {
            return None;
        }
        let cwd = base.unwrap_or(&self.paths.ctx.workspace);
        let ctx = ExecContext::new(&self.paths, &self.search_path, cwd, writes, invocations);
        granting.iter().find_map(|&(inv, rule)| {
            let network = self.config.command_rules[rule].grants.network;
            let after = inv.checked_sub(1).map(|i| invocations[i].argv.as_slice());
            exception(&invocations[inv].argv, network, after, &ctx).map(|why| (why, rule))
        })
    }

    fn union_grants(&self, rules: &[usize]) -> RuleGrantSet {
        let mut out = RuleGrantSet {
            network: true,
            ..RuleGrantSet::default()
        };
        if rules.is_empty() {
            out.network = false;
        }
        for &i in rules {
            let r = &self.config.command_rules[i];
            // Network is granted only when every command's rule grants it.
            out.network &= r.grants.network;
            if !r.grants.write.is_empty() {
                out.sets.push(i);
                for w in &r.grants.write {
                    let path = self.paths.ctx.resolve(w, None);
                    if w.ends_with('/') && path.starts_with(&self.paths.ctx.workspace) {
                        out.create_dirs.push(path.clone());
                    }
                    out.write_paths.push(path);
                }
            }
        }
        out.compiled = out
            .sets
            .iter()
            .map(|&i| self.rule_write_grants[i].clone())
            .collect();
        out
    }

    fn classify_mcp(
        &self,
        action: &Action,
        server: &str,
        tool: &str,
        hinted_read_only: bool,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        let Some(cfg) = self.config.mcp_servers.get(server) else {
            return decided(final_decision(
                Outcome::Deny,
                Some(Category::McpElicitations),
                Layer::CommandRules,
                None,
                format!("MCP server `{server}` is not configured"),
                trace,
            ));
        };
        let source = Some(cfg.source.clone());
        if !mcp_tool_enabled(cfg, tool) {
            return decided(final_decision(
                Outcome::Deny,
                Some(Category::McpElicitations),
                Layer::CommandRules,
                source,
                format!("MCP tool `{server}/{tool}` is not enabled for this server"),
                trace,
            ));
        }
        // A `deny` review rule naming this tool wins over everything that
        // would let it run without review (trust, read-only hints, a tool
        // `decision = "allow"`): MCP tools have no command rules, so review
        // rules are their structured rules, and a managed deny must never
        // be weakened by a lower layer's trust settings.
        if let Some(rule) = self
            .review_rules
            .decide(action, Category::McpElicitations, &Facts::default())
            .filter(|r| r.decision == ReviewDecision::Deny)
        {
            let layer = if rule.managed {
                Layer::Requirements
            } else {
                Layer::ReviewRules
            };
            trace.push(step(
                layer,
                "deny",
                Some(rule.source.clone()),
                rule.reason.clone(),
            ));
            let reason = if rule.reason.is_empty() {
                format!(
                    "MCP tool `{server}/{tool}` is denied by the review rule at {}",
                    rule.source
                )
            } else {
                rule.reason.clone()
            };
            return decided(final_decision(
                Outcome::Deny,
                Some(Category::McpElicitations),
                layer,
                Some(rule.source.clone()),
                reason,
                trace,
            ));
        }
        let overrides = cfg.tools.get(tool);
        match overrides.and_then(|o| o.decision) {
            Some(RuleDecision::Forbidden) => {
                return decided(final_decision(
                    Outcome::Deny,
                    Some(Category::McpElicitations),
                    Layer::CommandRules,
                    source,
                    format!("MCP tool `{server}/{tool}` is forbidden by configuration"),
                    trace,
                ));
            }
            Some(RuleDecision::Allow) => {
                trace.push(step(
                    Layer::CommandRules,
                    "allow",
                    source,
                    "tool decision = allow".into(),
                ));
                return decided(run_inside(trace, "MCP tool allowed by configuration"));
            }
            Some(RuleDecision::Prompt) => {
                trace.push(step(
                    Layer::CommandRules,
                    "prompt",
                    source,
                    "tool decision = prompt".into(),
                ));
                return Classified::Crosses(Crossing::one(
                    Category::McpElicitations,
                    Grants::default(),
                ));
            }
            None => {}
        }
        let read_only = overrides
            .and_then(|o| o.read_only)
            .unwrap_or(hinted_read_only);
        if cfg.trust == Trust::Trusted && read_only {
            return decided(run_inside(trace, "read-only tool of a trusted MCP server"));
        }
        let why = if cfg.trust == Trust::Untrusted {
            "tool of an untrusted MCP server (its hints are not trusted)"
        } else {
            "MCP tool with side effects"
        };
        trace.push(step(Layer::Sandbox, "crossing", None, why.into()));
        Classified::Crosses(Crossing::one(Category::McpElicitations, Grants::default()))
    }
}

/// Whether a tool passes `enabled_tools` / `disabled_tools`.
pub fn mcp_tool_enabled(cfg: &McpServerConfig, tool: &str) -> bool {
    if cfg.disabled_tools.iter().any(|t| t == tool) {
        return false;
    }
    cfg.enabled_tools
        .as_ref()
        .is_none_or(|list| list.iter().any(|t| t == tool))
}

#[derive(Debug, Clone, Default)]
struct RuleGrantSet {
    network: bool,
    sets: Vec<usize>,
    compiled: Vec<PathSet>,
    write_paths: Vec<std::path::PathBuf>,
    create_dirs: Vec<std::path::PathBuf>,
}

impl RuleGrantSet {
    fn covers_write(&self, p: &std::path::Path) -> bool {
        self.compiled.iter().any(|s| s.contains(p))
    }
}

/// Steps 1–3 either decide, or find a boundary crossing.
enum Classified {
    Decided(Box<Decision>),
    Crosses(Crossing),
}

fn decided(d: Decision) -> Classified {
    Classified::Decided(Box::new(d))
}

struct Crossing {
    categories: Vec<Category>,
    requested: Grants,
    /// Why an allow rule's pre-approval does not apply, when that made
    /// this a crossing.
    withheld: Option<String>,
}

impl Crossing {
    fn one(category: Category, requested: Grants) -> Self {
        Crossing {
            categories: vec![category],
            requested,
            withheld: None,
        }
    }
}

fn describe_escalation(e: &Escalation) -> String {
    let mut parts = Vec::new();
    if !e.network.is_empty() {
        parts.push(format!("network to {}", e.network.join(", ")));
    }
    if !e.write.is_empty() {
        let w: Vec<String> = e.write.iter().map(|p| p.display().to_string()).collect();
        parts.push(format!("write to {}", w.join(", ")));
    }
    if e.unsandboxed {
        parts.push("an unsandboxed run".into());
    }
    parts.join("; ")
}

/// What made the action a crossing of `category`, from the trace: the
/// `prompt` rule (with its source) for `rules`, the sandbox's finding
/// otherwise.
fn crossing_cause(trace: &[TraceStep], category: Category) -> (String, Option<Source>) {
    let wanted = |t: &&TraceStep| match category {
        Category::Rules => t.result == "prompt",
        _ => t.result == "crossing",
    };
    match trace.iter().rev().find(wanted) {
        Some(t) if category == Category::Rules => {
            let at = t
                .source
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            let what = if t.detail.is_empty() {
                "a command rule says `prompt`".to_owned()
            } else {
                t.detail.trim_end_matches('.').to_owned()
            };
            (format!("{what}{at}"), t.source.clone())
        }
        Some(t) => (t.detail.clone(), None),
        None => (format!("a {category} boundary crossing"), None),
    }
}

fn step(layer: Layer, result: &str, source: Option<Source>, detail: String) -> TraceStep {
    TraceStep {
        layer,
        result: result.to_owned(),
        source,
        detail,
    }
}

fn run_inside(trace: &mut Vec<TraceStep>, why: &str) -> Decision {
    trace.push(step(Layer::Sandbox, "run", None, why.to_owned()));
    final_decision(
        Outcome::Run,
        None,
        Layer::Sandbox,
        None,
        why.to_owned(),
        trace,
    )
}

fn final_decision(
    outcome: Outcome,
    category: Option<Category>,
    layer: Layer,
    source: Option<Source>,
    reason: String,
    trace: &mut Vec<TraceStep>,
) -> Decision {
    Decision {
        outcome,
        category,
        layer,
        source,
        reason,
        grants: Grants::default(),
        reviewer: None,
        trace: std::mem::take(trace),
    }
}

#[cfg(test)]
mod tests;

//! Steps 1–3 of an exec, one function per step:
//!
//! - steps 1–2 ([`Pipeline::match_command_rules`],
//!   [`Pipeline::command_rules_step`]): the strictest rule over every
//!   invocation a script or wrapper leads to; `forbidden` denies;
//! - the facts the review rules will see ([`Pipeline::exec_facts`]);
//! - step 3 ([`Pipeline::escalation_step`], [`ExecCrossing::needs`],
//!   [`Pipeline::withheld_step`], [`Pipeline::preapproved_or_run`]): what the
//!   exec asks for beyond the sandbox, or that an allow rule pre-approves it,
//!   or that it runs inside.
//!
//! Imports what [`super`] does.

use std::path::{Path, PathBuf};

use crate::action::Escalation;
use crate::config::{CommandRule, RuleDecision, SandboxMode};
use crate::decision::{Category, Decision, Grants, Layer, StepResult, TraceStep};
use crate::policy::command_rules::CommandView;
use crate::policy::paths::exec_hosts;
use crate::policy::predict::{Needs, predict};
use crate::policy::review_rules::Facts;
use crate::policy::run_writes::RunWrites;
use crate::policy::wrappers::{Analysis, analyze_exec};

use super::allow_grants::RuleGrantSet;
use super::classify::{Classified, Crossing, decided, run_inside};
use super::{Pipeline, WITHHELD, rule_layer, step};

/// Steps 1–2 over every invocation of an exec.
struct RuleMatch<'a> {
    /// The strictest rule any invocation matched.
    strictest: Option<&'a CommandRule>,
    /// Every invocation matched an allow rule.
    all_allowed: bool,
    /// The allow rules matched, one per invocation that matched one.
    allow_rules: Vec<usize>,
    /// (invocation, rule) pairs whose allow rule grants something.
    granting: Vec<(usize, usize)>,
}

/// What an allow rule may pre-approve for an exec.
struct AllowGrants {
    /// Fully understood, unwrapped, and no pre-approval exception: the
    /// allow rules' grants apply.
    applies: bool,
    /// The union of those grants (empty unless `applies`).
    grants: RuleGrantSet,
}

/// Step 3's findings so far: the categories an exec crosses and what an
/// approval would grant it.
#[derive(Default)]
struct ExecCrossing {
    categories: Vec<Category>,
    requested: Grants,
}

impl ExecCrossing {
    fn add(&mut self, category: Category) {
        if !self.categories.contains(&category) {
            self.categories.push(category);
        }
    }

    fn request_write(&mut self, path: PathBuf) {
        if !self.requested.write.contains(&path) {
            self.requested.write.push(path);
        }
    }

    /// What the exec needs beyond the sandbox (secret reads, scrubbed
    /// credentials, writes outside or onto protected paths): a crossing
    /// even without an escalation request.
    fn needs(&mut self, needs: &Needs, trace: &mut Vec<TraceStep>) {
        if needs.is_empty() {
            return;
        }
        self.add(Category::SandboxApproval);
        for w in &needs.writes {
            self.request_write(w.clone());
        }
        trace.push(step(
            Layer::Sandbox,
            StepResult::Crossing,
            None,
            needs.describe(),
        ));
    }
}

impl Pipeline {
    /// Steps 1–3 of an exec.
    pub(super) fn classify_exec(
        &self,
        command: &[String],
        cwd: Option<&Path>,
        escalate: Option<&Escalation>,
        writes: &RunWrites,
        facts: &mut Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        if command.is_empty() {
            return decided(
                Decision::deny(Layer::CommandRules)
                    .reason("empty command")
                    .after(trace),
            );
        }
        let analysis = analyze_exec(command);
        let base = cwd.map(|c| self.paths.ctx.resolve(&c.to_string_lossy(), None));
        let base = base.as_deref();

        let rules = self.match_command_rules(&analysis);
        if let Some(forbidden) = self.command_rules_step(&analysis, rules.strictest, trace) {
            return decided(forbidden);
        }

        let mut needs = predict(&analysis.invocations, &self.paths, base);
        self.exec_facts(&analysis, &mut needs, escalate, base, facts);

        let prompt = rules
            .strictest
            .is_some_and(|r| r.decision == RuleDecision::Prompt);
        let danger = self.config.sandbox_mode == SandboxMode::DangerFullAccess;
        // An allow rule's grants apply only to commands warden fully
        // understands and that no wrapper runs (others run sandboxed
        // without them)...
        let understood =
            rules.all_allowed && analysis.fully_understood() && !analysis.has_wrapper();
        // ...and whose options or inputs cannot choose where it connects or
        // what it runs (`--config`, `--index-url`, an agent-written
        // lockfile, …): such a command asks for what the rule would grant.
        let withheld = if understood && !danger {
            self.preapproval_exception(&analysis.invocations, &rules.granting, base, writes)
        } else {
            None
        };
        let applies = understood && withheld.is_none();
        facts.invocations = analysis.invocations;
        let allow = AllowGrants {
            applies,
            grants: if applies {
                self.union_grants(&rules.allow_rules)
            } else {
                RuleGrantSet::default()
            },
        };

        // Step 3.
        let mut crossing = ExecCrossing::default();
        if prompt {
            crossing.add(Category::Rules);
        }
        let escalation = escalate.filter(|e| !e.is_empty());
        if let Some(esc) = escalation
            && !danger
        {
            self.escalation_step(esc, base, &allow, &mut crossing, trace);
        }
        crossing.needs(&needs, trace);
        let withheld = withheld.map(|(why, rule)| {
            self.withheld_step(&why, rule, &rules.granting, &mut crossing, trace)
        });

        if crossing.categories.is_empty() {
            return decided(self.preapproved_or_run(
                escalation.is_some(),
                danger,
                &allow,
                &rules.allow_rules,
                crossing.requested,
                trace,
            ));
        }
        Classified::Crosses(Crossing {
            categories: crossing.categories,
            requested: crossing.requested,
            withheld,
        })
    }

    /// Steps 1–2: the strictest rule over every invocation, and the allow
    /// rules that matched.
    fn match_command_rules(&self, analysis: &Analysis) -> RuleMatch<'_> {
        let rules = &self.config.command_rules;
        let mut matched = RuleMatch {
            strictest: None,
            all_allowed: !analysis.invocations.is_empty(),
            allow_rules: Vec::new(),
            granting: Vec::new(),
        };
        for (n, inv) in analysis.invocations.iter().enumerate() {
            let view = CommandView {
                argv: &inv.argv,
                piped: inv.piped,
            };
            let found = self.rule_index.strictest(rules, view);
            match found {
                Some(i) if rules[i].decision == RuleDecision::Allow => {
                    matched.allow_rules.push(i);
                    let g = &rules[i].grants;
                    if g.network || !g.write.is_empty() {
                        matched.granting.push((n, i));
                    }
                }
                _ => matched.all_allowed = false,
            }
            if let Some(r) = found.map(|i| &rules[i])
                && matched.strictest.is_none_or(|w| r.decision > w.decision)
            {
                matched.strictest = Some(r);
            }
        }
        matched
    }

    /// Steps 1–2 in the trace: what warden did not understand, the
    /// strictest rule (or none); a `forbidden` rule denies.
    fn command_rules_step(
        &self,
        analysis: &Analysis,
        strictest: Option<&CommandRule>,
        trace: &mut Vec<TraceStep>,
    ) -> Option<Decision> {
        if !analysis.fully_understood() {
            trace.push(step(
                Layer::CommandRules,
                StepResult::NotFullyUnderstood,
                None,
                analysis.problems.join("; "),
            ));
        }
        let Some(rule) = strictest else {
            trace.push(step(
                Layer::CommandRules,
                StepResult::NoRule,
                None,
                String::new(),
            ));
            return None;
        };
        let layer = rule_layer(rule.managed, Layer::CommandRules);
        let result = match rule.decision {
            RuleDecision::Allow => StepResult::Allow,
            RuleDecision::Prompt => StepResult::Prompt,
            RuleDecision::Forbidden => StepResult::Forbidden,
        };
        trace.push(step(
            layer,
            result,
            Some(rule.source.clone()),
            rule.justification.clone().unwrap_or_default(),
        ));
        (rule.decision == RuleDecision::Forbidden).then(|| {
            Decision::deny(layer)
                .category(Category::Rules)
                .source(rule.source.clone())
                .reason(
                    rule.justification.clone().unwrap_or_else(|| {
                        format!("forbidden by the command rule at {}", rule.source)
                    }),
                )
                .after(trace)
        })
    }

    /// The facts the review rules see (consulted only for a crossing):
    /// the paths and hosts the exec mentions, reads and writes.
    fn exec_facts(
        &self,
        analysis: &Analysis,
        needs: &mut Needs,
        escalate: Option<&Escalation>,
        base: Option<&Path>,
        facts: &mut Facts,
    ) {
        facts.paths.append(&mut needs.mentioned);
        for inv in &analysis.invocations {
            facts.hosts.extend(exec_hosts(&inv.argv));
        }
        if let Some(esc) = escalate {
            facts
                .hosts
                .extend(esc.network.iter().map(|h| h.to_ascii_lowercase()));
            for w in &esc.write {
                facts
                    .paths
                    .push(self.paths.ctx.resolve(&w.to_string_lossy(), base));
            }
        }
        facts.hosts.sort();
        facts.hosts.dedup();
        facts.paths.extend(needs.secret_reads.iter().cloned());
        facts.paths.extend(needs.writes.iter().cloned());
        facts.requested_paths.extend(needs.writes.iter().cloned());
    }

    /// Step 3, an escalation request: what it asks for, pre-approved when
    /// the allow rules grant all of it, a crossing otherwise.
    fn escalation_step(
        &self,
        esc: &Escalation,
        base: Option<&Path>,
        allow: &AllowGrants,
        crossing: &mut ExecCrossing,
        trace: &mut Vec<TraceStep>,
    ) {
        crossing.requested = Grants {
            network: esc.network.clone(),
            any_network: false,
            write: esc
                .write
                .iter()
                .map(|w| self.paths.ctx.resolve(&w.to_string_lossy(), base))
                .collect(),
            unsandboxed: esc.unsandboxed,
            create_dirs: Vec::new(),
        };
        let rule = &allow.grants;
        let covered = allow.applies
            && !esc.unsandboxed
            && (esc.network.is_empty() || rule.network)
            && crossing
                .requested
                .write
                .iter()
                .all(|w| rule.covers_write(w));
        if covered {
            trace.push(step(
                Layer::CommandRules,
                StepResult::PreApproved,
                None,
                "allow rule grants what the escalation asks".into(),
            ));
        } else {
            crossing.add(Category::SandboxApproval);
            trace.push(step(
                Layer::Sandbox,
                StepResult::Crossing,
                None,
                format!("escalation requested: {}", describe_escalation(esc)),
            ));
        }
    }

    /// Step 3, a withheld pre-approval: the exec asks for what its allow
    /// rules would have granted. Returns the trace detail, which
    /// [`super::preapproval_withheld`] recognises.
    fn withheld_step(
        &self,
        why: &str,
        rule: usize,
        granting: &[(usize, usize)],
        crossing: &mut ExecCrossing,
        trace: &mut Vec<TraceStep>,
    ) -> String {
        crossing.add(Category::SandboxApproval);
        let rules: Vec<usize> = granting.iter().map(|&(_, r)| r).collect();
        let wanted = self.union_grants(&rules);
        crossing.requested.any_network |= rules
            .iter()
            .any(|&r| self.config.command_rules[r].grants.network);
        for w in wanted.write_paths {
            crossing.request_write(w);
        }
        crossing.requested.create_dirs.extend(wanted.create_dirs);
        let source = self.config.command_rules[rule].source.clone();
        let detail = format!("{WITHHELD}{source} withheld: {why}");
        trace.push(step(
            Layer::Sandbox,
            StepResult::Crossing,
            Some(source),
            detail.clone(),
        ));
        detail
    }

    /// Step 3, no crossing: an allow rule pre-approves what the exec needs
    /// beyond the sandbox, or it runs inside.
    fn preapproved_or_run(
        &self,
        escalated: bool,
        danger: bool,
        allow: &AllowGrants,
        allow_rules: &[usize],
        requested: Grants,
        trace: &mut Vec<TraceStep>,
    ) -> Decision {
        let grants = if allow.applies && escalated {
            requested
        } else if allow.applies && !danger {
            Grants {
                any_network: allow.grants.network,
                write: allow.grants.write_paths.clone(),
                create_dirs: allow.grants.create_dirs.clone(),
                ..Grants::default()
            }
        } else {
            Grants::default()
        };
        if grants.is_empty() {
            return run_inside(
                trace,
                if danger {
                    "danger-full-access: runs without a sandbox"
                } else {
                    "runs inside the sandbox"
                },
            );
        }
        let source = allow_rules
            .first()
            .map(|&i| self.config.command_rules[i].source.clone());
        Decision::approve(Layer::CommandRules)
            .source(source)
            .reason("an allow rule pre-approves what this command needs beyond the sandbox")
            .grants(grants)
            .step("allow rule pre-approves what the command needs")
            .after(trace)
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

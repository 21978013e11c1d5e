//! From the merged [`Builder`] to a [`Config`]: managed requirements are
//! enforced and added, every value is checked, the reviewer policy is chosen
//! (managed > local > default) and each value's provenance is recorded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;
use super::builtin::{DEFAULT_POLICY, DEFAULT_POLICY_ORIGIN};
use super::merge::{Builder, LocalPolicy, McpBuilder};
use super::provenance::{LayerKind, Provenance, Set, render, render_duration, render_text_summary};
use super::requirements::Requirements;
use crate::config::schema::*;
use crate::decision::Source;

/// Enforce and add managed requirements. Call once, after every layer.
pub fn apply_requirements(b: &mut Builder, req: &Requirements) -> Result<(), ConfigError> {
    let forbidden = |what: String, at: &Source, rule: &Source, allowed: String| ConfigError {
        location: Some(at.clone()),
        message: format!("{what} is forbidden by managed requirements ({rule}: {allowed})"),
        help: Some(format!(
            "requirements cannot be weakened; change the setting at {} (or override it, e.g. with `-c`) to a value the requirements allow",
            at
        )),
    };
    if let (Some(allowed), Some(mode)) = (&req.allowed_sandbox_modes, &b.sandbox_mode) {
        if !allowed.value.contains(&mode.value) {
            return Err(forbidden(
                format!("sandbox_mode = \"{}\"", mode.value.as_str()),
                &mode.source,
                &allowed.source,
                format!("allowed_sandbox_modes = {}", render(&allowed.value)),
            ));
        }
    }
    if let (Some(allowed), Some(reviewer)) =
        (&req.allowed_approvals_reviewers, &b.approvals_reviewer)
    {
        if !allowed.value.contains(&reviewer.value) {
            return Err(forbidden(
                format!("approvals_reviewer = \"{}\"", reviewer.value.as_str()),
                &reviewer.source,
                &allowed.source,
                format!("allowed_approvals_reviewers = {}", render(&allowed.value)),
            ));
        }
    }
    let mut managed_review = Vec::new();
    if let Some(allow) = req.allow_network.as_ref().filter(|a| !a.value) {
        let rule = || "allow_network = false".to_owned();
        if let Some(net) = b.network.as_ref().filter(|n| n.value == NetworkMode::On) {
            return Err(forbidden(
                "sandbox.network = \"on\"".into(),
                &net.source,
                &allow.source,
                rule(),
            ));
        }
        for (name, server) in &b.mcp_servers {
            if let Some(net) = server.network.as_ref().filter(|n| n.value) {
                return Err(forbidden(
                    format!("mcp_servers.{name}.network = true"),
                    &net.source,
                    &allow.source,
                    rule(),
                ));
            }
        }
        // Rules cannot be removed by a layer, so refusing a network grant
        // would make a profile unusable: drop the grant instead (less
        // permission, never more) and say so.
        for r in b.command_rules.iter_mut().filter(|r| r.grants.network) {
            r.grants.network = false;
            b.warnings.push(format!(
                "{}: this rule's network grant is dropped: managed requirements forbid network ({}: allow_network = false)",
                r.source, allow.source
            ));
        }
        // And no reviewer may approve reaching a host.
        managed_review.push(ReviewRule {
            decision: ReviewDecision::Deny,
            kinds: Vec::new(),
            categories: Vec::new(),
            command: None,
            path: Vec::new(),
            host: vec!["*".to_owned()],
            mcp_server: Vec::new(),
            mcp_tool: Vec::new(),
            mcp_arguments: BTreeMap::new(),
            reason: "managed requirements forbid network access (allow_network = false)".to_owned(),
            source: allow.source.clone(),
            managed: true,
        });
    }
    let managed = |items: &[super::requirements::Required<String>]| -> Vec<Set<String>> {
        items
            .iter()
            .map(|r| Set {
                value: r.value.clone(),
                layer: LayerKind::Requirements,
                source: r.source.clone(),
            })
            .collect()
    };
    b.deny_read.splice(0..0, managed(&req.deny_read));
    b.protected.splice(0..0, managed(&req.protected));
    b.command_rules
        .splice(0..0, req.command_rules.iter().cloned());
    managed_review.extend(req.review_rules.iter().cloned());
    b.review_rules.splice(0..0, managed_review);
    if let Some(policy) = &req.guardian_policy_config {
        if let Some(local) = &b.policy {
            b.warnings.push(format!(
                "{}: the local reviewer policy is not used: managed guardian_policy_config ({}) wins",
                local.source, policy.source
            ));
        }
    }
    Ok(())
}

/// Collects provenance while values are taken out of the builder.
struct Taker {
    provenance: Vec<Provenance>,
}

impl Taker {
    fn required<T>(
        &mut self,
        key: &str,
        slot: Option<Set<T>>,
        show: impl Fn(&T) -> String,
    ) -> Result<Set<T>, ConfigError> {
        let set = slot.ok_or_else(|| ConfigError {
            location: None,
            message: format!("no value for `{key}`"),
            help: Some(
                "every built-in profile sets it in profiles/common.toml; this is a bug in warden"
                    .to_owned(),
            ),
        })?;
        self.provenance.push(set.provenance(key, show(&set.value)));
        Ok(set)
    }

    fn value<T>(
        &mut self,
        key: &str,
        slot: Option<Set<T>>,
        show: impl Fn(&T) -> String,
    ) -> Result<T, ConfigError> {
        self.required(key, slot, show).map(|s| s.value)
    }

    fn optional<T>(
        &mut self,
        key: &str,
        slot: Option<Set<T>>,
        show: impl Fn(&T) -> String,
    ) -> Option<T> {
        slot.map(|set| {
            self.provenance.push(set.provenance(key, show(&set.value)));
            set.value
        })
    }

    fn list(&mut self, key: &str, items: Vec<Set<String>>) -> Vec<String> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, set)| {
                self.provenance
                    .push(set.provenance(format!("{key}[{i}]"), render(&set.value)));
                set.value
            })
            .collect()
    }

    fn default<T>(&mut self, key: &str, value: T, show: impl Fn(&T) -> String) -> T {
        self.provenance.push(Provenance {
            key: key.to_owned(),
            value: show(&value),
            layer: LayerKind::Default,
            source: None,
        });
        value
    }
}

fn at_least_one(set: &Set<u32>, key: &str) -> Result<(), ConfigError> {
    if set.value == 0 {
        return Err(ConfigError {
            location: Some(set.source.clone()),
            message: format!("`{key}` must be at least 1"),
            help: None,
        });
    }
    Ok(())
}

fn check_url(set: &Option<Set<String>>, key: &str) -> Result<(), ConfigError> {
    if let Some(url) = set {
        if !(url.value.starts_with("https://") || url.value.starts_with("http://")) {
            return Err(ConfigError {
                location: Some(url.source.clone()),
                message: format!("`{key}` must be an http:// or https:// URL"),
                help: None,
            });
        }
    }
    Ok(())
}

fn dur(d: &Duration) -> String {
    render_duration(*d)
}

/// Build the resolved configuration. `req` has already been applied.
pub fn finish(
    mut b: Builder,
    profile: &str,
    req: Option<&Requirements>,
) -> Result<(Config, Vec<Provenance>, Vec<String>), ConfigError> {
    let mut t = Taker {
        provenance: Vec::new(),
    };
    let approval_policy = t.value("approval_policy", b.approval_policy.take(), render)?;
    let approvals_reviewer = t.value("approvals_reviewer", b.approvals_reviewer.take(), render)?;
    let sandbox_mode = t.value("sandbox_mode", b.sandbox_mode.take(), render)?;
    let fallback = t.value("sandbox_fallback", b.sandbox_fallback.take(), render)?;

    let output_limit = t.required("sandbox.output_limit", b.output_limit.take(), render)?;
    if output_limit.value == 0 {
        return Err(ConfigError {
            location: Some(output_limit.source),
            message: "`sandbox.output_limit` must be at least 1 byte".into(),
            help: None,
        });
    }
    let sandbox = SandboxConfig {
        writable_roots: t.list(
            "sandbox.writable_roots",
            std::mem::take(&mut b.writable_roots),
        ),
        deny_read: t.list("sandbox.deny_read", std::mem::take(&mut b.deny_read)),
        protected: t.list("sandbox.protected", std::mem::take(&mut b.protected)),
        network: t.value("sandbox.network", b.network.take(), render)?,
        fallback,
        timeout: t.value("sandbox.timeout", b.timeout.take(), dur)?,
        output_limit: output_limit.value,
        env_pass: t.list("sandbox.env.pass", std::mem::take(&mut b.env_pass)),
        env_set: std::mem::take(&mut b.env_set)
            .into_iter()
            .map(|(k, set)| {
                t.provenance
                    .push(set.provenance(format!("sandbox.env.set.{k}"), render(&set.value)));
                (k, set.value)
            })
            .collect(),
    };

    check_url(&b.ar_base_url, "auto_review.base_url")?;
    // `script` is accepted: the reviewer then answers from the `reviews:` of
    // `warden run --scenario F` (a command without a scenario refuses it).
    let ar_provider = t.required("auto_review.provider", b.ar_provider.take(), render)?;
    let ar_attempts = t.required("auto_review.max_attempts", b.ar_max_attempts.take(), render)?;
    at_least_one(&ar_attempts, "auto_review.max_attempts")?;
    let consecutive = t.required(
        "auto_review.circuit_breaker.consecutive",
        b.breaker_consecutive.take(),
        render,
    )?;
    let window = t.required(
        "auto_review.circuit_breaker.window",
        b.breaker_window.take(),
        render,
    )?;
    let max_in_window = t.required(
        "auto_review.circuit_breaker.max_in_window",
        b.breaker_max_in_window.take(),
        render,
    )?;
    at_least_one(&consecutive, "auto_review.circuit_breaker.consecutive")?;
    at_least_one(&window, "auto_review.circuit_breaker.window")?;
    at_least_one(&max_in_window, "auto_review.circuit_breaker.max_in_window")?;
    if max_in_window.value > window.value {
        return Err(ConfigError {
            location: Some(max_in_window.source),
            message: format!(
                "`max_in_window` ({}) is larger than `window` ({}), so the window limit could never trip",
                max_in_window.value, window.value
            ),
            help: Some(format!("`window` is set at {}", window.source)),
        });
    }
    let policy = effective_policy(&mut t, b.policy.take(), req);
    let extra: Vec<String> = std::mem::take(&mut b.extra_policy)
        .into_iter()
        .enumerate()
        .map(|(i, set)| {
            t.provenance.push(set.provenance(
                format!("auto_review.extra_policy[{i}]"),
                render_text_summary(&set.value),
            ));
            set.value.trim_end().to_owned()
        })
        .collect();
    let auto_review = AutoReviewConfig {
        provider: ar_provider.value,
        model: t.optional("auto_review.model", b.ar_model.take(), render),
        base_url: t.optional("auto_review.base_url", b.ar_base_url.take(), render),
        timeout: t.value("auto_review.timeout", b.ar_timeout.take(), dur)?,
        max_attempts: ar_attempts.value,
        policy,
        extra_policy: (!extra.is_empty()).then(|| extra.join("\n\n")),
        transcript_budget: t.value(
            "auto_review.transcript_budget",
            b.transcript_budget.take(),
            render,
        )?,
        circuit_breaker: BreakerConfig {
            consecutive: consecutive.value,
            window: window.value,
            max_in_window: max_in_window.value,
        },
    };

    check_url(&b.agent_base_url, "agent.base_url")?;
    let max_turns = t.required("agent.max_turns", b.agent_max_turns.take(), render)?;
    at_least_one(&max_turns, "agent.max_turns")?;
    let agent_attempts = t.required("agent.max_attempts", b.agent_max_attempts.take(), render)?;
    at_least_one(&agent_attempts, "agent.max_attempts")?;
    let agent = AgentConfig {
        provider: t.value("agent.provider", b.agent_provider.take(), render)?,
        model: t.optional("agent.model", b.agent_model.take(), render),
        base_url: t.optional("agent.base_url", b.agent_base_url.take(), render),
        max_turns: max_turns.value,
        timeout: t.value("agent.timeout", b.agent_timeout.take(), dur)?,
        token_budget: t.optional("agent.token_budget", b.agent_token_budget.take(), render),
        tool_output_limit: t.value(
            "agent.tool_output_limit",
            b.agent_tool_output_limit.take(),
            render,
        )?,
        request_timeout: t.value("agent.request_timeout", b.agent_request_timeout.take(), dur)?,
        max_attempts: agent_attempts.value,
    };
    let report = ReportConfig {
        on_breaker: t.value("report.on_breaker", b.on_breaker.take(), render)?,
        on_escalation: t.value("report.on_escalation", b.on_escalation.take(), render)?,
        on_denial: t.value("report.on_denial", b.on_denial.take(), render)?,
        annotate_approvals: t.value(
            "report.annotate_approvals",
            b.annotate_approvals.take(),
            render,
        )?,
    };
    let skills = SkillsConfig {
        dirs: t
            .value("skills.dirs", b.skills_dirs.take(), render)?
            .into_iter()
            .map(PathBuf::from)
            .collect(),
    };
    let mut mcp_servers = BTreeMap::new();
    for (name, server) in std::mem::take(&mut b.mcp_servers) {
        mcp_servers.insert(name.clone(), mcp_server(&mut t, &name, server)?);
    }

    let config = Config {
        profile: profile.to_owned(),
        approval_policy,
        approvals_reviewer,
        sandbox_mode,
        sandbox,
        command_rules: std::mem::take(&mut b.command_rules),
        review_rules: std::mem::take(&mut b.review_rules),
        auto_review,
        agent,
        report,
        mcp_servers,
        skills,
    };
    Ok((config, t.provenance, b.warnings))
}

fn effective_policy(
    t: &mut Taker,
    local: Option<Set<LocalPolicy>>,
    req: Option<&Requirements>,
) -> PolicyText {
    let key = "auto_review.policy";
    if let Some(managed) = req.and_then(|r| r.guardian_policy_config.as_ref()) {
        t.provenance.push(Provenance {
            key: key.into(),
            value: render_text_summary(&managed.value),
            layer: LayerKind::Requirements,
            source: Some(managed.source.clone()),
        });
        return PolicyText {
            text: managed.value.clone(),
            origin: format!("requirements guardian_policy_config ({})", managed.source),
        };
    }
    match local {
        Some(set) => {
            let (text, origin) = match set.value.clone() {
                LocalPolicy::Inline(text) => {
                    (text, format!("[auto_review].policy ({})", set.source))
                }
                LocalPolicy::File { display, text } => {
                    (text, format!("policy_file {display} ({})", set.source))
                }
            };
            t.provenance
                .push(set.provenance(key, render_text_summary(&text)));
            PolicyText { text, origin }
        }
        None => {
            t.provenance.push(Provenance {
                key: key.into(),
                value: render_text_summary(DEFAULT_POLICY),
                layer: LayerKind::Builtin,
                source: Some(Source {
                    file: DEFAULT_POLICY_ORIGIN.to_owned(),
                    line: 1,
                    column: None,
                }),
            });
            PolicyText {
                text: DEFAULT_POLICY.to_owned(),
                origin: DEFAULT_POLICY_ORIGIN.to_owned(),
            }
        }
    }
}

fn mcp_server(t: &mut Taker, name: &str, s: McpBuilder) -> Result<McpServerConfig, ConfigError> {
    let k = |field: &str| format!("mcp_servers.{name}.{field}");
    let header = s.first.as_ref().map(|f| Source {
        column: None,
        ..f.source.clone()
    });
    let command = s.command.ok_or_else(|| ConfigError {
        location: header.clone(),
        message: format!("MCP server `{name}` has no `command`"),
        help: Some(format!("add `command = \"…\"` under [mcp_servers.{name}]")),
    })?;
    if command.value.trim().is_empty() {
        return Err(ConfigError {
            location: Some(command.source),
            message: format!("MCP server `{name}` has an empty `command`"),
            help: None,
        });
    }
    t.provenance
        .push(command.provenance(k("command"), render(&command.value)));
    let source = Source {
        column: None,
        ..command.source.clone()
    };
    let env = s
        .env
        .into_iter()
        .map(|(var, set)| {
            // Values here are often credentials: never render them.
            t.provenance
                .push(set.provenance(k(&format!("env.{var}")), "<hidden>".into()));
            (var, set.value)
        })
        .collect();
    let mut tools = BTreeMap::new();
    for (tool, (read_only, decision)) in s.tools {
        let key = |f: &str| format!("mcp_servers.{name}.tools.{tool}.{f}");
        let o = McpToolOverride {
            read_only: t.optional(&key("read_only"), read_only, render),
            decision: t.optional(&key("decision"), decision, render),
        };
        tools.insert(tool, o);
    }
    Ok(McpServerConfig {
        command: command.value,
        args: t.optional(&k("args"), s.args, render).unwrap_or_default(),
        env,
        cwd: t.optional(&k("cwd"), s.cwd, render).map(PathBuf::from),
        trust: match s.trust {
            Some(set) => t.value(&k("trust"), Some(set), render)?,
            None => t.default(&k("trust"), Trust::Untrusted, render),
        },
        enabled_tools: t.optional(&k("enabled_tools"), s.enabled_tools, render),
        disabled_tools: t.list(&k("disabled_tools"), s.disabled_tools),
        tools,
        network: match s.network {
            Some(set) => t.value(&k("network"), Some(set), render)?,
            None => t.default(&k("network"), false, render),
        },
        startup_timeout: match s.startup_timeout {
            Some(set) => t.value(&k("startup_timeout"), Some(set), dur)?,
            None => t.default(&k("startup_timeout"), Duration::from_secs(20), dur),
        },
        tool_timeout: match s.tool_timeout {
            Some(set) => t.value(&k("tool_timeout"), Some(set), dur)?,
            None => t.default(&k("tool_timeout"), Duration::from_secs(60), dur),
        },
        source,
    })
}

//! From the merged [`Builder`] to a [`Config`]: every value is checked, the
//! reviewer policy is chosen (managed > local > default) and each value's
//! provenance is recorded. Requirements are enforced before this, in
//! [`super::requirements::apply`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::builtin::{DEFAULT_POLICY, DEFAULT_POLICY_ORIGIN};
use super::merge::{Builder, LocalPolicy, McpBuilder};
use super::provenance::{
    HIDDEN, LayerKind, Provenance, Set, looks_secret, render, render_duration, render_text_summary,
};
use super::requirements::Requirements;
use super::{ConfigError, Diagnostic};
use crate::config::schema::*;
use crate::decision::Source;

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
        let set = slot.ok_or_else(|| {
            ConfigError::new(format!("no value for `{key}`")).help(
                "every built-in profile sets it in profiles/common.toml; this is a bug in warden",
            )
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

/// Refuse a zero where at least one is needed, at the value's location.
fn at_least_one<T: Copy + Into<u64>>(
    errors: &mut Vec<ConfigError>,
    slot: &Option<Set<T>>,
    key: &str,
    unit: &str,
) {
    if let Some(set) = slot.as_ref().filter(|set| set.value.into() == 0) {
        errors.push(ConfigError::located(
            set.source.clone(),
            format!("`{key}` must be at least 1{unit}"),
        ));
    }
}

fn check_url(errors: &mut Vec<ConfigError>, set: &Option<Set<String>>, key: &str) {
    if let Some(url) = set {
        if !(url.value.starts_with("https://") || url.value.starts_with("http://")) {
            errors.push(ConfigError::located(
                url.source.clone(),
                format!("`{key}` must be an http:// or https:// URL"),
            ));
        }
    }
}

fn dur(d: &Duration) -> String {
    render_duration(*d)
}

/// Check values that need more than their type says, before any is taken:
/// every failing check is one error.
pub fn check(b: &Builder) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let as_u64 = |slot: &Option<Set<usize>>| {
        slot.as_ref().map(|s| Set {
            value: u64::try_from(s.value).unwrap_or(u64::MAX),
            layer: s.layer,
            source: s.source.clone(),
        })
    };
    at_least_one(e, &as_u64(&b.output_limit), "sandbox.output_limit", " byte");
    at_least_one(
        e,
        &as_u64(&b.agent_tool_output_limit),
        "agent.tool_output_limit",
        " byte",
    );
    // `auto_review.provider = "script"` is accepted: the reviewer then
    // answers from the `reviews:` of `warden run --scenario F`; a command
    // without a scenario refuses it (see review::llm::from_config).
    check_url(e, &b.ar_base_url, "auto_review.base_url");
    check_url(e, &b.agent_base_url, "agent.base_url");
    at_least_one(e, &b.ar_max_attempts, "auto_review.max_attempts", "");
    at_least_one(e, &b.agent_max_attempts, "agent.max_attempts", "");
    at_least_one(e, &b.agent_max_turns, "agent.max_turns", "");
    at_least_one(
        e,
        &b.breaker_consecutive,
        "auto_review.circuit_breaker.consecutive",
        "",
    );
    at_least_one(
        e,
        &b.breaker_window,
        "auto_review.circuit_breaker.window",
        "",
    );
    at_least_one(
        e,
        &b.breaker_max_in_window,
        "auto_review.circuit_breaker.max_in_window",
        "",
    );
    if let (Some(window), Some(max)) = (&b.breaker_window, &b.breaker_max_in_window) {
        if max.value > window.value {
            e.push(
                ConfigError::located(
                    max.source.clone(),
                    format!(
                        "`max_in_window` ({}) is larger than `window` ({}), so the window limit could never trip",
                        max.value, window.value
                    ),
                )
                .also(window.source.clone(), "the window it cannot exceed")
                .help(format!("`window` is set at {}", window.source)),
            );
        }
    }
    errors
}

/// Build the resolved configuration from a builder that passed [`check`].
/// `req` has already been applied.
pub fn finish(
    b: Builder,
    profile: &str,
    req: Option<&Requirements>,
) -> Result<(Config, Vec<Provenance>, Vec<Diagnostic>), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let resolved = take_all(b, profile, req, &mut errors);
    match resolved {
        Ok(done) if errors.is_empty() => Ok(done),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(e);
            Err(errors)
        }
    }
}

fn take_all(
    mut b: Builder,
    profile: &str,
    req: Option<&Requirements>,
    errors: &mut Vec<ConfigError>,
) -> Result<(Config, Vec<Provenance>, Vec<Diagnostic>), ConfigError> {
    let mut t = Taker {
        provenance: Vec::new(),
    };
    let approval_policy = t.value("approval_policy", b.approval_policy.take(), render_granular)?;
    let approvals_reviewer = t.value("approvals_reviewer", b.approvals_reviewer.take(), render)?;
    let sandbox_mode = t.value("sandbox_mode", b.sandbox_mode.take(), render)?;
    let fallback = t.value("sandbox_fallback", b.sandbox_fallback.take(), render)?;

    let sandbox = SandboxConfig {
        network: t.value("sandbox.network", b.network.take(), render)?,
        timeout: t.value("sandbox.timeout", b.timeout.take(), dur)?,
        output_limit: t.value("sandbox.output_limit", b.output_limit.take(), render)?,
        writable_roots: t.list(
            "sandbox.writable_roots",
            std::mem::take(&mut b.writable_roots),
        ),
        deny_read: t.list("sandbox.deny_read", std::mem::take(&mut b.deny_read)),
        protected: t.list("sandbox.protected", std::mem::take(&mut b.protected)),
        fallback,
        env_pass: t.list("sandbox.env.pass", std::mem::take(&mut b.env_pass)),
        env_set: std::mem::take(&mut b.env_set)
            .into_iter()
            .map(|(k, set)| {
                let shown = if looks_secret(&k) {
                    HIDDEN.to_owned()
                } else {
                    render(&set.value)
                };
                t.provenance
                    .push(set.provenance(format!("sandbox.env.set.{k}"), shown));
                (k, set.value)
            })
            .collect(),
    };

    let provider = t.value("auto_review.provider", b.ar_provider.take(), render)?;
    let model = t.optional("auto_review.model", b.ar_model.take(), render);
    let base_url = t.optional("auto_review.base_url", b.ar_base_url.take(), render);
    let timeout = t.value("auto_review.timeout", b.ar_timeout.take(), dur)?;
    let max_attempts = t.value("auto_review.max_attempts", b.ar_max_attempts.take(), render)?;
    let transcript_budget = t.value(
        "auto_review.transcript_budget",
        b.transcript_budget.take(),
        render,
    )?;
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
    let circuit_breaker = BreakerConfig {
        consecutive: t.value(
            "auto_review.circuit_breaker.consecutive",
            b.breaker_consecutive.take(),
            render,
        )?,
        window: t.value(
            "auto_review.circuit_breaker.window",
            b.breaker_window.take(),
            render,
        )?,
        max_in_window: t.value(
            "auto_review.circuit_breaker.max_in_window",
            b.breaker_max_in_window.take(),
            render,
        )?,
    };
    let auto_review = AutoReviewConfig {
        provider,
        model,
        base_url,
        timeout,
        max_attempts,
        policy,
        extra_policy: (!extra.is_empty()).then(|| extra.join("\n\n")),
        transcript_budget,
        circuit_breaker,
    };

    let agent = AgentConfig {
        provider: t.value("agent.provider", b.agent_provider.take(), render)?,
        model: t.optional("agent.model", b.agent_model.take(), render),
        base_url: t.optional("agent.base_url", b.agent_base_url.take(), render),
        max_turns: t.value("agent.max_turns", b.agent_max_turns.take(), render)?,
        timeout: t.value("agent.timeout", b.agent_timeout.take(), dur)?,
        token_budget: t.optional("agent.token_budget", b.agent_token_budget.take(), render),
        tool_output_limit: t.value(
            "agent.tool_output_limit",
            b.agent_tool_output_limit.take(),
            render,
        )?,
        request_timeout: t.value("agent.request_timeout", b.agent_request_timeout.take(), dur)?,
        max_attempts: t.value("agent.max_attempts", b.agent_max_attempts.take(), render)?,
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
        match mcp_server(&mut t, &name, server) {
            Ok(server) => {
                mcp_servers.insert(name, server);
            }
            Err(e) => errors.push(e),
        }
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

/// `{ granular = { … } }` with the categories in their documented order.
fn render_granular(g: &Granular) -> String {
    format!(
        "{{ granular = {{ sandbox_approval = {}, rules = {}, mcp_elicitations = {}, request_permissions = {}, skill_approval = {} }} }}",
        g.sandbox_approval, g.rules, g.mcp_elicitations, g.request_permissions, g.skill_approval
    )
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
    let command = s.command.ok_or_else(|| {
        let message = format!("MCP server `{name}` has no `command`");
        match header.clone() {
            Some(at) => ConfigError::located(at, message),
            None => ConfigError::new(message),
        }
        .help(format!("add `command = \"…\"` under [mcp_servers.{name}]"))
    })?;
    if command.value.trim().is_empty() {
        return Err(ConfigError::located(
            command.source,
            format!("MCP server `{name}` has an empty `command`"),
        ));
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
                .push(set.provenance(k(&format!("env.{var}")), HIDDEN.into()));
            (var, set.value)
        })
        .collect();
    let mut tools = BTreeMap::new();
    for (tool, builder) in s.tools {
        let key = |f: &str| format!("mcp_servers.{name}.tools.{tool}.{f}");
        let o = McpToolOverride {
            read_only: t.optional(&key("read_only"), builder.read_only, render),
            decision: t.optional(&key("decision"), builder.decision, render),
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

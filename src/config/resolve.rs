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
pub struct Taker {
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

    pub(super) fn value<T>(
        &mut self,
        key: &str,
        slot: Option<Set<T>>,
        show: impl Fn(&T) -> String,
    ) -> Result<T, ConfigError> {
        self.required(key, slot, show).map(|s| s.value)
    }

    pub(super) fn optional<T>(
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
    at_least_one(
        e,
        &as_u64(&b.scalars.output_limit),
        "sandbox.output_limit",
        " byte",
    );
    at_least_one(
        e,
        &as_u64(&b.scalars.agent_tool_output_limit),
        "agent.tool_output_limit",
        " byte",
    );
    // `auto_review.provider = "script"` is accepted: the reviewer then
    // answers from the `reviews:` of `warden run --scenario F`; a command
    // without a scenario refuses it (see review::llm::from_config).
    check_url(e, &b.scalars.ar_base_url, "auto_review.base_url");
    check_url(e, &b.scalars.agent_base_url, "agent.base_url");
    at_least_one(
        e,
        &b.scalars.ar_max_attempts,
        "auto_review.max_attempts",
        "",
    );
    at_least_one(e, &b.scalars.agent_max_attempts, "agent.max_attempts", "");
    at_least_one(e, &b.scalars.agent_max_turns, "agent.max_turns", "");
    at_least_one(
        e,
        &b.scalars.breaker_consecutive,
        "auto_review.circuit_breaker.consecutive",
        "",
    );
    at_least_one(
        e,
        &b.scalars.breaker_window,
        "auto_review.circuit_breaker.window",
        "",
    );
    at_least_one(
        e,
        &b.scalars.breaker_max_in_window,
        "auto_review.circuit_breaker.max_in_window",
        "",
    );
    if let (Some(window), Some(max)) = (&b.scalars.breaker_window, &b.scalars.breaker_max_in_window)
    {
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
    let approval_policy = b.scalars.approval_policy(&mut t)?;
    let approvals_reviewer = b.scalars.approvals_reviewer(&mut t)?;
    let sandbox_mode = b.scalars.sandbox_mode(&mut t)?;
    let fallback = b.scalars.sandbox_fallback(&mut t)?;

    let sandbox = SandboxConfig {
        network: b.scalars.network(&mut t)?,
        git: b.scalars.git(&mut t)?,
        timeout: b.scalars.timeout(&mut t)?,
        output_limit: b.scalars.output_limit(&mut t)?,
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

    let provider = b.scalars.ar_provider(&mut t)?;
    let model = b.scalars.ar_model(&mut t);
    let base_url = b.scalars.ar_base_url(&mut t);
    let timeout = b.scalars.ar_timeout(&mut t)?;
    let max_attempts = b.scalars.ar_max_attempts(&mut t)?;
    let transcript_budget = b.scalars.transcript_budget(&mut t)?;
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
    let circuit_breaker = b.scalars.circuit_breaker(&mut t)?;
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

    let agent = b.scalars.agent(&mut t)?;
    let report = b.scalars.report(&mut t)?;
    let skills = SkillsConfig {
        dirs: b
            .scalars
            .skills_dirs(&mut t)?
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

//! The text of `warden profiles list|show`: a resolved configuration as
//! TOML with the layer and `file:line:col` every value came from, its rules
//! with their sources and the effective reviewer policy, or the same as
//! JSON. Pure functions of a [`Loaded`] configuration, so the CLI only
//! loads and prints. It may import `config` (and `redact` through the
//! caller, which redacts what it prints).

use crate::config::provenance::{looks_secret, render, render_key};
use crate::config::rules::{quote, render_pattern};
use crate::config::{self, CommandRule, Loaded, Provenance, ReviewRule};

/// `warden profiles list`: the built-in profiles (JSON with `json`).
pub fn list_text(json: bool) -> String {
    let profiles = config::builtin_profiles();
    if json {
        let items: Vec<_> = profiles
            .iter()
            .map(
                |(name, description)| serde_json::json!({"name": name, "description": description}),
            )
            .collect();
        return format!("{}\n", serde_json::Value::Array(items));
    }
    let width = profiles.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, description) in profiles {
        out.push_str(&format!("{name:width$}  {description}\n"));
    }
    out.push_str(
        "\n`warden profiles show NAME` prints one resolved, with where each value came from.\n",
    );
    out
}

/// `warden profiles show --json`: profile, digest, layers, warnings, config
/// and provenance, with MCP server environments and credential-like
/// `env.set` values hidden.
pub fn show_json(loaded: &Loaded) -> String {
    let mut config = serde_json::to_value(&loaded.config).unwrap_or_default();
    // MCP server environments usually carry credentials.
    if let Some(servers) = config
        .get_mut("mcp_servers")
        .and_then(|s| s.as_object_mut())
    {
        for server in servers.values_mut() {
            if let Some(env) = server.get_mut("env").and_then(|e| e.as_object_mut()) {
                for value in env.values_mut() {
                    *value = serde_json::Value::String("<hidden>".into());
                }
            }
        }
    }
    if let Some(set) = config
        .pointer_mut("/sandbox/env_set")
        .and_then(|e| e.as_object_mut())
    {
        for (name, value) in set.iter_mut() {
            if looks_secret(name) {
                *value = serde_json::Value::String("<hidden>".into());
            }
        }
    }
    let doc = serde_json::json!({
        "profile": loaded.config.profile,
        "digest": loaded.digest(),
        "layers": loaded.layers,
        "warnings": loaded.warnings,
        "config": config,
        "provenance": loaded.provenance,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}

/// Tables in the order they are printed; a key belongs to the longest match.
const TABLES: [&str; 7] = [
    "sandbox.env",
    "sandbox",
    "auto_review.circuit_breaker",
    "auto_review",
    "agent",
    "report",
    "skills",
];

/// Split a provenance key into (table, key within it).
fn table_of(key: &str) -> (String, String) {
    if let Some(rest) = key.strip_prefix("mcp_servers.") {
        let parts: Vec<&str> = rest.splitn(4, '.').collect();
        return match parts.as_slice() {
            [name, "tools", tool, field] => (
                format!(
                    "mcp_servers.{}.tools.{}",
                    render_key(name),
                    render_key(tool)
                ),
                (*field).to_owned(),
            ),
            [name, rest @ ..] => (format!("mcp_servers.{}", render_key(name)), rest.join(".")),
            [] => (String::new(), key.to_owned()),
        };
    }
    for table in TABLES {
        if let Some(rest) = key.strip_prefix(table).and_then(|r| r.strip_prefix('.')) {
            return (table.to_owned(), rest.to_owned());
        }
    }
    (String::new(), key.to_owned())
}

fn origin(p: &Provenance) -> String {
    match &p.source {
        Some(s) => s.to_string(),
        None => p.layer.as_str().to_owned(),
    }
}

/// `warden profiles show`: the resolved configuration as TOML, each value
/// followed by the layer and `file:line:col` that set it, then every rule
/// with its source and the effective reviewer policy.
pub fn show_text(loaded: &Loaded) -> String {
    let cfg = &loaded.config;
    let mut out = format!(
        "# warden profile `{}`\n# digest: sha256:{}\n# layers, lowest first:\n",
        cfg.profile,
        loaded.digest()
    );
    for layer in &loaded.layers {
        out.push_str(&format!("#   {:<12} {}\n", layer.kind.as_str(), layer.name));
    }

    // Group provenance by table, keeping the order in which tables appear.
    let mut tables: Vec<(String, Vec<(String, &Provenance)>)> = Vec::new();
    for p in &loaded.provenance {
        if p.key == "auto_review.policy" || p.key.starts_with("auto_review.extra_policy") {
            continue; // printed with the policy below
        }
        let (table, key) = table_of(&p.key);
        match tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, entries)) => entries.push((key, p)),
            None => tables.push((table, vec![(key, p)])),
        }
    }
    tables.sort_by_key(|(t, _)| !t.is_empty()); // top level first, stable
    for (table, entries) in &tables {
        out.push('\n');
        if !table.is_empty() {
            out.push_str(&format!("[{table}]\n"));
        }
        let mut open_list: Option<&str> = None;
        for (key, p) in entries {
            let list_key = key.split_once('[').map(|(k, _)| k);
            if open_list.is_some() && open_list != list_key {
                out.push_str("]\n");
                open_list = None;
            }
            let value = p.value.clone();
            match list_key {
                Some(list) => {
                    if open_list.is_none() {
                        out.push_str(&format!("{list} = [\n"));
                        open_list = Some(list);
                    }
                    out.push_str(&format!("  {:<40} # {}\n", format!("{value},"), origin(p)));
                }
                None => out.push_str(&format!(
                    "{:<42} # {}\n",
                    format!("{key} = {value}"),
                    origin(p)
                )),
            }
        }
        if open_list.is_some() {
            out.push_str("]\n");
        }
    }

    out.push_str(&format!(
        "\n# command rules: {} (strictest match wins: forbidden > prompt > allow)\n",
        cfg.command_rules.len()
    ));
    for rule in &cfg.command_rules {
        out.push_str(&command_rule_text(rule));
    }
    out.push_str(&format!(
        "\n# review rules: {} (strictest match wins: deny > escalate > approve; managed first)\n",
        cfg.review_rules.len()
    ));
    for rule in &cfg.review_rules {
        out.push_str(&review_rule_text(rule));
    }

    out.push_str(&format!(
        "\n# effective reviewer policy (managed > local > default)\n# origin: {}\n",
        cfg.auto_review.policy.origin
    ));
    for line in cfg.auto_review.policy.text.lines() {
        out.push_str(&format!("#| {line}\n"));
    }
    if let Some(extra) = &cfg.auto_review.extra_policy {
        let sources: Vec<String> = loaded
            .provenance
            .iter()
            .filter(|p| p.key.starts_with("auto_review.extra_policy"))
            .map(origin)
            .collect();
        out.push_str(&format!(
            "# extra_policy, appended (from {}):\n",
            sources.join(", ")
        ));
        for line in extra.lines() {
            out.push_str(&format!("#| {line}\n"));
        }
    }
    out
}

fn managed_note(managed: bool) -> &'static str {
    if managed { " (managed)" } else { "" }
}

fn command_rule_text(rule: &CommandRule) -> String {
    let mut s = format!(
        "\n[[command_rules]]  # {}{}\n",
        rule.source,
        managed_note(rule.managed)
    );
    s.push_str(&format!("pattern = {}\n", render_pattern(&rule.pattern)));
    if !rule.any_arg.is_empty() {
        s.push_str(&format!("any_arg = {}\n", render(&rule.any_arg)));
    }
    if rule.piped {
        s.push_str("piped = true\n");
    }
    s.push_str(&format!("decision = \"{}\"\n", rule.decision.as_str()));
    if let Some(j) = &rule.justification {
        s.push_str(&format!("justification = {}\n", quote(j)));
    }
    if rule.grants != Default::default() {
        s.push_str(&format!("grants = {}\n", render(&rule.grants)));
    }
    if !rule.examples_match.is_empty() {
        s.push_str(&format!(
            "match = {}\n",
            render_examples(&rule.examples_match)
        ));
    }
    if !rule.examples_not_match.is_empty() {
        s.push_str(&format!(
            "not_match = {}\n",
            render_examples(&rule.examples_not_match)
        ));
    }
    s
}

/// Examples as command lines where that is unambiguous, argv lists otherwise.
fn render_examples(examples: &[Vec<String>]) -> String {
    let items: Vec<String> = examples
        .iter()
        .map(|argv| {
            if argv
                .iter()
                .all(|w| !w.is_empty() && !w.contains(char::is_whitespace))
            {
                quote(&argv.join(" "))
            } else {
                render(argv)
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn review_rule_text(rule: &ReviewRule) -> String {
    let mut s = format!(
        "\n[[review_rules]]  # {}{}\n",
        rule.source,
        managed_note(rule.managed)
    );
    s.push_str(&format!("decision = \"{}\"\n", rule.decision.as_str()));
    let lists: [(&str, String, bool); 7] = [
        ("kinds", render(&rule.kinds), rule.kinds.is_empty()),
        (
            "categories",
            render(&rule.categories),
            rule.categories.is_empty(),
        ),
        ("path", render(&rule.path), rule.path.is_empty()),
        ("host", render(&rule.host), rule.host.is_empty()),
        (
            "mcp_server",
            render(&rule.mcp_server),
            rule.mcp_server.is_empty(),
        ),
        ("mcp_tool", render(&rule.mcp_tool), rule.mcp_tool.is_empty()),
        (
            "mcp_arguments",
            render(&rule.mcp_arguments),
            rule.mcp_arguments.is_empty(),
        ),
    ];
    if let Some(c) = &rule.command {
        s.push_str(&format!("command = {}\n", render_pattern(c)));
    }
    for (key, value, empty) in lists {
        if !empty {
            s.push_str(&format!("{key} = {value}\n"));
        }
    }
    s.push_str(&format!("reason = {}\n", quote(&rule.reason)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_tables() {
        assert_eq!(
            table_of("sandbox_mode"),
            (String::new(), "sandbox_mode".into())
        );
        assert_eq!(
            table_of("sandbox.env.set.CI"),
            ("sandbox.env".into(), "set.CI".into())
        );
        assert_eq!(
            table_of("sandbox.deny_read[2]"),
            ("sandbox".into(), "deny_read[2]".into())
        );
        assert_eq!(
            table_of("auto_review.circuit_breaker.window"),
            ("auto_review.circuit_breaker".into(), "window".into())
        );
        assert_eq!(
            table_of("mcp_servers.gh.command"),
            ("mcp_servers.gh".into(), "command".into())
        );
        assert_eq!(
            table_of("mcp_servers.gh.tools.create_issue.decision"),
            (
                "mcp_servers.gh.tools.create_issue".into(),
                "decision".into()
            )
        );
    }

    #[test]
    fn show_text_names_sources_and_policy_origin() {
        let loaded = config::load(&config::LoadOptions::builtin("ci")).unwrap();
        let text = show_text(&loaded);
        assert!(
            text.contains("# origin: builtin:profiles/policy/default.md"),
            "{text}"
        );
        assert!(text.contains("[sandbox]\n"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("sandbox_mode = \"workspace-write\"")
                    && l.contains("# builtin:profiles/ci.toml:"))
        );
        assert!(text.contains("\n[[command_rules]]  # builtin:profiles/common.toml:"));
        assert!(text.contains("match = [\"git status --short\", "), "{text}");
        // Lists are closed.
        assert_eq!(text.matches("deny_read = [").count(), 1);
    }
}

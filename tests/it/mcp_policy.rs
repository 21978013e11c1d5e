//! How MCP tool calls are classified, through the real config loader and
//! the real pipeline (no server processes: annotations are given as a
//! server would declare them). The end-to-end runs are in mcp_e2e.rs.

use std::path::PathBuf;

use warden::action::{Action, ToolAnnotations};
use warden::config::{LoadOptions, load};
use warden::decision::{Category, Decision, Layer, Outcome};
use warden::mcp::classify::{ToolClass, classify};
use warden::policy::paths::PathContext;
use warden::policy::pipeline::{Pipeline, Prejudged};

const READ_ONLY: ToolAnnotations = ToolAnnotations {
    read_only_hint: Some(true),
    destructive_hint: None,
    idempotent_hint: None,
    open_world_hint: None,
};
const NO_HINTS: ToolAnnotations = ToolAnnotations {
    read_only_hint: None,
    destructive_hint: None,
    idempotent_hint: None,
    open_world_hint: None,
};

/// Two servers as a team would configure them, after `extra` TOML (first,
/// so its top-level keys stay top-level).
fn team_config(extra: &str) -> String {
    format!(
        r#"
{extra}

[mcp_servers.local]
command = "local-server"
trust = "trusted"
disabled_tools = ["drop_db"]
[mcp_servers.local.tools.purge]
decision = "forbidden"
[mcp_servers.local.tools.refresh]
decision = "allow"
[mcp_servers.local.tools.publish]
decision = "prompt"
[mcp_servers.local.tools.lookup]
read_only = true
[mcp_servers.local.tools.reindex]
read_only = false

[mcp_servers.vendor]
command = "vendor-server"
trust = "untrusted"
enabled_tools = ["search", "lookup", "create_ticket"]
[mcp_servers.vendor.tools.lookup]
read_only = true
"#
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    pipeline: Pipeline,
    config: warden::config::Config,
}

fn setup(profile: &str, toml: &str, requirements: Option<&str>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let file = root.join("team.toml");
    std::fs::write(&file, toml).unwrap();
    let mut opts = LoadOptions::builtin(profile);
    opts.config_files = vec![file];
    if let Some(req) = requirements {
        let req_file = root.join("requirements.toml");
        std::fs::write(&req_file, req).unwrap();
        opts.requirements = Some(req_file);
    }
    let loaded = load(&opts).unwrap_or_else(|e| panic!("config: {e}"));
    let pipeline = Pipeline::new(
        &loaded.config,
        PathContext {
            workspace: root.clone(),
            home: PathBuf::from("/nonexistent-home"),
        },
    )
    .unwrap();
    Setup {
        _dir: dir,
        pipeline,
        config: loaded.config,
    }
}

fn mcp(server: &str, tool: &str, annotations: ToolAnnotations) -> Action {
    Action::Mcp {
        server: server.into(),
        tool: tool.into(),
        arguments: serde_json::json!({"q": "x"}),
        annotations,
    }
}

fn judge(s: &Setup, action: &Action) -> Decision {
    match s.pipeline.prejudge(action) {
        Prejudged::Final(d) => d,
        Prejudged::NeedsReviewer(d) => d,
    }
}

fn needs_reviewer(s: &Setup, action: &Action) -> bool {
    matches!(s.pipeline.prejudge(action), Prejudged::NeedsReviewer(_))
}

#[test]
fn trusted_read_only_tools_run_quietly_in_every_profile() {
    for profile in ["ci", "dev", "review", "nightly"] {
        let s = setup(profile, &team_config(""), None);
        let d = judge(&s, &mcp("local", "list_issues", READ_ONLY));
        assert_eq!(
            (d.outcome, d.layer),
            (Outcome::Run, Layer::Sandbox),
            "{profile}"
        );
        assert_eq!(d.category, None, "{profile}: routine, no category");
        // The operator's `read_only = true` works without a hint.
        let d = judge(&s, &mcp("local", "lookup", NO_HINTS));
        assert_eq!(d.outcome, Outcome::Run, "{profile}");
    }
}

#[test]
fn ci_auto_rejects_side_effects_without_review() {
    // A review rule that would approve is never consulted: the category is
    // false, so the crossing is rejected before step 5.
    let approve = r#"
[[review_rules]]
decision = "approve"
mcp_server = ["local", "vendor"]
reason = "would approve"
"#;
    let s = setup("ci", &team_config(approve), None);
    for action in [
        mcp("local", "create_issue", NO_HINTS),
        mcp("local", "publish", READ_ONLY),
        mcp("local", "reindex", READ_ONLY),
        mcp("vendor", "lookup", READ_ONLY),
        mcp("vendor", "search", READ_ONLY),
    ] {
        let d = judge(&s, &action);
        assert_eq!(d.outcome, Outcome::Deny, "{action:?}");
        assert_eq!(d.layer, Layer::AutoReject, "{action:?}");
        assert_eq!(d.category, Some(Category::McpElicitations));
        assert!(d.reason.contains("mcp_elicitations"), "{}", d.reason);
        assert!(d.reviewer.is_none());
        assert!(!d.trace.iter().any(|t| t.layer == Layer::ReviewRules));
    }
}

#[test]
fn dev_sends_side_effects_and_untrusted_tools_to_the_reviewer() {
    let s = setup("dev", &team_config(""), None);
    for action in [
        // No hints: the worst case.
        mcp("local", "create_issue", NO_HINTS),
        // Destructive despite claiming read-only: worst case wins.
        mcp(
            "local",
            "wipe",
            ToolAnnotations {
                read_only_hint: Some(true),
                destructive_hint: Some(true),
                ..NO_HINTS
            },
        ),
        // Read-only but open-world (reaches outside): reviewed.
        mcp(
            "local",
            "web_search",
            ToolAnnotations {
                open_world_hint: Some(true),
                ..READ_ONLY
            },
        ),
        // The operator says it writes, whatever the server claims.
        mcp("local", "reindex", READ_ONLY),
        // `decision = "prompt"`.
        mcp("local", "publish", READ_ONLY),
        // An untrusted server's "read-only" is not believed.
        mcp("vendor", "search", READ_ONLY),
        // Not even with the operator's read_only = true.
        mcp("vendor", "lookup", READ_ONLY),
    ] {
        assert!(needs_reviewer(&s, &action), "{action:?}");
        let d = judge(&s, &action);
        assert_eq!(d.category, Some(Category::McpElicitations), "{action:?}");
    }
}

#[test]
fn review_rules_decide_mcp_crossings_with_the_rules_reviewer() {
    let rules = r#"
approvals_reviewer = "rules"
[[review_rules]]
decision = "approve"
mcp_server = ["local"]
mcp_tool = ["create_*"]
mcp_arguments = { q = "x" }
reason = "tickets are fine"
"#;
    let s = setup("dev", &team_config(rules), None);
    let d = judge(&s, &mcp("local", "create_issue", NO_HINTS));
    assert_eq!((d.outcome, d.layer), (Outcome::Approve, Layer::ReviewRules));
    assert_eq!(d.reason, "tickets are fine");
    // Same tool name on the untrusted server: no rule, escalates.
    let d = judge(&s, &mcp("vendor", "create_ticket", NO_HINTS));
    assert_eq!((d.outcome, d.layer), (Outcome::Escalate, Layer::NoRule));
    // Different arguments: the rule does not match.
    let mut other = mcp("local", "create_issue", NO_HINTS);
    if let Action::Mcp { arguments, .. } = &mut other {
        *arguments = serde_json::json!({"q": "y"});
    }
    assert_eq!(judge(&s, &other).outcome, Outcome::Escalate);
}

#[test]
fn configuration_forbids_allows_and_disables_tools() {
    let s = setup("dev", &team_config(""), None);
    let d = judge(&s, &mcp("local", "purge", READ_ONLY));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(
        d.reason.contains("forbidden by configuration"),
        "{}",
        d.reason
    );
    assert!(d.source.as_ref().unwrap().file.ends_with("team.toml"));
    let d = judge(&s, &mcp("local", "refresh", NO_HINTS));
    assert_eq!(
        d.outcome,
        Outcome::Run,
        "decision = allow runs without review"
    );
    let d = judge(&s, &mcp("local", "drop_db", READ_ONLY));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.reason.contains("not enabled"), "{}", d.reason);
    // enabled_tools: everything else on the vendor server is off.
    let d = judge(&s, &mcp("vendor", "delete_account", READ_ONLY));
    assert_eq!(d.outcome, Outcome::Deny);
    // A server nobody configured.
    let d = judge(&s, &mcp("stranger", "echo", READ_ONLY));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.reason.contains("not configured"), "{}", d.reason);
}

#[test]
fn a_deny_review_rule_beats_trust_hints_and_allow() {
    let deny = r#"
[[review_rules]]
decision = "deny"
mcp_server = ["local"]
mcp_tool = ["list_*", "refresh"]
reason = "no listing here"
"#;
    let s = setup("dev", &team_config(deny), None);
    for tool in ["list_issues", "refresh"] {
        let d = judge(&s, &mcp("local", tool, READ_ONLY));
        assert_eq!(
            (d.outcome, d.layer),
            (Outcome::Deny, Layer::ReviewRules),
            "{tool}"
        );
        assert_eq!(d.reason, "no listing here");
    }
    assert_eq!(
        judge(&s, &mcp("local", "get_issue", READ_ONLY)).outcome,
        Outcome::Run
    );
}

#[test]
fn a_managed_deny_cannot_be_weakened_by_local_trust() {
    let requirements = r#"
[[review_rules]]
decision = "deny"
mcp_server = ["local"]
mcp_tool = ["export_*"]
reason = "exports are forbidden by the organisation"
"#;
    // The project trusts the server, marks the tool read-only and allows it.
    let local = r#"
[mcp_servers.local.tools.export_all]
read_only = true
decision = "allow"
"#;
    let s = setup("dev", &team_config(local), Some(requirements));
    let d = judge(&s, &mcp("local", "export_all", READ_ONLY));
    assert_eq!((d.outcome, d.layer), (Outcome::Deny, Layer::Requirements));
    assert!(d.reason.contains("organisation"));
}

#[test]
fn classification_for_mcp_list_agrees_with_the_pipeline() {
    let s = setup("ci", &team_config(""), None);
    let class = |server: &str, tool: &str, a: ToolAnnotations| {
        let cfg = &s.config.mcp_servers[server];
        classify(&s.pipeline, cfg, server, tool, &a)
    };
    let c = class("local", "list_issues", READ_ONLY);
    assert_eq!(
        (c.class, c.outcome),
        (ToolClass::Routine, Some(Outcome::Run))
    );
    let c = class("local", "create_issue", NO_HINTS);
    assert_eq!(c.class, ToolClass::McpElicitations);
    assert_eq!(
        (c.outcome, c.layer),
        (Some(Outcome::Deny), Some(Layer::AutoReject))
    );
    let c = class("local", "purge", READ_ONLY);
    assert_eq!(c.class, ToolClass::Forbidden);
    let c = class("local", "drop_db", READ_ONLY);
    assert_eq!(c.class, ToolClass::Disabled);
    assert!(c.reason.contains("disabled_tools"));
    let c = class("vendor", "other", READ_ONLY);
    assert_eq!(c.class, ToolClass::Disabled);
    assert!(c.reason.contains("enabled_tools"));
    // dev with the LLM reviewer: each call is reviewed.
    let s = setup("dev", &team_config(""), None);
    let cfg = &s.config.mcp_servers["vendor"];
    let c = classify(&s.pipeline, cfg, "vendor", "search", &READ_ONLY);
    assert_eq!((c.class, c.outcome), (ToolClass::McpElicitations, None));
}

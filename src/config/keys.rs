//! The config key table: every table of a layer as written (`RawLayer`,
//! `RawSandbox`, …), with each scalar key declared once as a row that also
//! names its builder slot, its resolved type, whether a profile must set
//! it, and how it is shown, the way ripgrep defines each flag once.
//!
//! From one row come: its field in the raw table (serde parses it, with
//! its span, so `-c` overrides and unknown-key suggestions need nothing
//! more), its builder slot ([`Scalars`]), folding a layer into it (highest
//! layer wins, with the layer and `file:line:col` that set it), taking the
//! value out for the resolved [`super::Config`] with its provenance under
//! the dotted name (`warden profiles show`), and the key list
//! [`SCALAR_KEYS`] that the documentation, `profiles show` and `-c` are
//! tested against. A table whose keys are all scalar also gets its typed
//! section built from its rows (`agent`, `report`, `circuit_breaker`), so a
//! new key there is its row plus its typed field in `schema.rs`.
//!
//! Compound keys are rows without a slot (`field: Type;`): their values
//! are folded by hand in `merge.rs`/`resolve.rs`: the appended security
//! lists (`deny_read`, `protected`, `writable_roots`, `env.pass`), the rule
//! arrays (`command_rules`, `review_rules`, `rules_files`: each entry is
//! checked, located and ordered), maps merged key by key (`env.set`,
//! `mcp_servers`), and the reviewer policy (`policy`/`policy_file`/
//! `extra_policy`, chosen managed > local > default).
//!
//! Imports: `config::{merge, provenance, raw, resolve, schema}` only.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::merge::LayerCtx;
use super::provenance::{Set, render, render_duration};
use super::raw::{
    ApprovalPolicy, HumanDuration, RawCommandRule, RawEnv, RawMcpServer, RawReviewRule, S,
};
use super::resolve::Taker;
use crate::config::schema::{
    AgentConfig, BreakerConfig, Conclusion, GitMode, Granular, NetworkMode, ProviderKind,
    ReportConfig, ReviewerKind, SandboxFallback, SandboxMode,
};

/// One documented scalar key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// Dotted path (`agent.max_turns`).
    pub name: &'static str,
    /// The resolved Rust type (`u32`, `Duration`, `Option<String>` …).
    pub ty: &'static str,
}

/// `tables! { /// doc  RawName "dotted.prefix." [path from the layer] (=>
/// TypedSection as builder)? { rows } … }`, a row being `field: RawType;`
/// (compound) or `field: Option<S<Raw>> => slot: Resolved, required|optional,
/// show;` (scalar; `Raw: Into<Resolved>`).
macro_rules! tables {
    ($(
        $(#[$table_doc:meta])*
        $raw:ident $prefix:literal [$($section:ident)*] $(=> $typed:ident as $build:ident)? {
            $(
                $(#[$field_doc:meta])*
                $field:ident : $field_ty:ty $(=> $slot:ident : $ty:ty, $need:ident, $show:expr)?;
            )*
        }
    )*) => {
        $(
            $(#[$table_doc])*
            #[derive(Debug, Default, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $raw {
                $($(#[$field_doc])* pub $field: $field_ty,)*
            }

            impl $raw {
                /// Move this table's scalar keys into their slots.
                fn take_scalars(&mut self, ctx: &LayerCtx<'_>, slots: &mut Scalars) {
                    $($(
                        if let Some(v) = self.$field.take() {
                            slots.$slot = Some(ctx.set(v).map(Into::<$ty>::into));
                        }
                    )?)*
                }
            }
        )*

        /// One slot per scalar key: the highest layer that sets it wins.
        #[derive(Debug, Default)]
        pub struct Scalars {
            $($($(pub $slot: Option<Set<$ty>>,)?)*)*
        }

        /// Every scalar key, in table order.
        pub const SCALAR_KEYS: &[KeyDoc] = &[$($($(KeyDoc {
            name: concat!($prefix, stringify!($field)),
            ty: tables!(@ty $need $ty),
        },)?)*)*];

        impl Scalars {
            /// Take this layer's scalar keys out of `raw` (the rest of the
            /// layer is folded by `merge.rs`).
            pub fn apply(&mut self, ctx: &LayerCtx<'_>, raw: &mut RawLayer) {
                $(
                    if let Some(table) = Some(&mut *raw)
                        $(.and_then(|r| r.$section.as_mut()))*
                    {
                        table.take_scalars(ctx, self);
                    }
                )*
            }

            $($($(
                #[doc = concat!("`", $prefix, stringify!($field), "`, with its provenance.")]
                pub fn $slot(&mut self, t: &mut Taker) -> tables!(@out $need $ty) {
                    let name = concat!($prefix, stringify!($field));
                    tables!(@take $need, t, name, self.$slot.take(), $show)
                }
            )?)*)*
        }

        $(tables!(@build $prefix [$($typed $build)?] { $($($field $slot $need;)?)* });)*
    };
    (@build $prefix:literal [] { $($rest:tt)* }) => {};
    (@build $prefix:literal [$typed:ident $build:ident] { $($field:ident $slot:ident $need:ident;)* }) => {
        impl Scalars {
            #[doc = concat!("The `", $prefix, "*` keys resolved, each with its provenance.")]
            pub fn $build(&mut self, t: &mut Taker) -> Result<$typed, ConfigError> {
                Ok($typed {
                    $($field: tables!(@field $need, self.$slot(t)),)*
                })
            }
        }
    };
    (@ty required $ty:ty) => { stringify!($ty) };
    (@ty optional $ty:ty) => { concat!("Option<", stringify!($ty), ">") };
    (@out required $ty:ty) => { Result<$ty, ConfigError> };
    (@out optional $ty:ty) => { Option<$ty> };
    (@take required, $t:ident, $name:ident, $slot:expr, $show:expr) => { $t.value($name, $slot, $show) };
    (@take optional, $t:ident, $name:ident, $slot:expr, $show:expr) => { $t.optional($name, $slot, $show) };
    (@field required, $value:expr) => { $value? };
    (@field optional, $value:expr) => { $value };
}

fn duration(d: &Duration) -> String {
    render_duration(*d)
}

/// `{ granular = { … } }` with the categories in their documented order.
fn granular(g: &Granular) -> String {
    format!(
        "{{ granular = {{ sandbox_approval = {}, rules = {}, mcp_elicitations = {}, request_permissions = {}, skill_approval = {} }} }}",
        g.sandbox_approval, g.rules, g.mcp_elicitations, g.request_permissions, g.skill_approval
    )
}

tables! {
    /// A whole layer file (`profiles/*.toml`, `.warden/config.toml`,
    /// `--config`, or one `-c`).
    RawLayer "" [] {
        approval_policy: Option<S<ApprovalPolicy>> => approval_policy: Granular, required, granular;
        approvals_reviewer: Option<S<ReviewerKind>> => approvals_reviewer: ReviewerKind, required, render;
        sandbox_mode: Option<S<SandboxMode>> => sandbox_mode: SandboxMode, required, render;
        sandbox_fallback: Option<S<SandboxFallback>> => sandbox_fallback: SandboxFallback, required, render;
        /// Codex `.rules` files to import, relative to this file.
        rules_files: Option<Vec<S<String>>>;
        sandbox: Option<RawSandbox>;
        command_rules: Option<Vec<S<RawCommandRule>>>;
        review_rules: Option<Vec<S<RawReviewRule>>>;
        auto_review: Option<RawAutoReview>;
        agent: Option<RawAgent>;
        report: Option<RawReport>;
        skills: Option<RawSkills>;
        mcp_servers: Option<BTreeMap<String, S<RawMcpServer>>>;
    }

    RawSandbox "sandbox." [sandbox] {
        writable_roots: Option<Vec<S<String>>>;
        deny_read: Option<Vec<S<String>>>;
        protected: Option<Vec<S<String>>>;
        network: Option<S<NetworkMode>> => network: NetworkMode, required, render;
        git: Option<S<GitMode>> => git: GitMode, required, render;
        timeout: Option<S<HumanDuration>> => timeout: Duration, required, duration;
        output_limit: Option<S<usize>> => output_limit: usize, required, render;
        env: Option<RawEnv>;
    }

    RawAutoReview "auto_review." [auto_review] {
        provider: Option<S<ProviderKind>> => ar_provider: ProviderKind, required, render;
        model: Option<S<String>> => ar_model: String, optional, render;
        base_url: Option<S<String>> => ar_base_url: String, optional, render;
        timeout: Option<S<HumanDuration>> => ar_timeout: Duration, required, duration;
        max_attempts: Option<S<u32>> => ar_max_attempts: u32, required, render;
        policy: Option<S<String>>;
        policy_file: Option<S<String>>;
        extra_policy: Option<S<String>>;
        transcript_budget: Option<S<usize>> => transcript_budget: usize, required, render;
        circuit_breaker: Option<RawBreaker>;
    }

    RawBreaker "auto_review.circuit_breaker." [auto_review circuit_breaker] => BreakerConfig as circuit_breaker {
        consecutive: Option<S<u32>> => breaker_consecutive: u32, required, render;
        window: Option<S<u32>> => breaker_window: u32, required, render;
        max_in_window: Option<S<u32>> => breaker_max_in_window: u32, required, render;
    }

    RawAgent "agent." [agent] => AgentConfig as agent {
        provider: Option<S<ProviderKind>> => agent_provider: ProviderKind, required, render;
        model: Option<S<String>> => agent_model: String, optional, render;
        base_url: Option<S<String>> => agent_base_url: String, optional, render;
        max_turns: Option<S<u32>> => agent_max_turns: u32, required, render;
        timeout: Option<S<HumanDuration>> => agent_timeout: Duration, required, duration;
        token_budget: Option<S<u64>> => agent_token_budget: u64, optional, render;
        tool_output_limit: Option<S<usize>> => agent_tool_output_limit: usize, required, render;
        request_timeout: Option<S<HumanDuration>> => agent_request_timeout: Duration, required, duration;
        max_attempts: Option<S<u32>> => agent_max_attempts: u32, required, render;
    }

    RawReport "report." [report] => ReportConfig as report {
        on_breaker: Option<S<Conclusion>> => on_breaker: Conclusion, required, render;
        on_escalation: Option<S<Conclusion>> => on_escalation: Conclusion, required, render;
        on_denial: Option<S<Conclusion>> => on_denial: Conclusion, required, render;
        annotate_approvals: Option<S<bool>> => annotate_approvals: bool, required, render;
    }

    RawSkills "skills." [skills] {
        dirs: Option<S<Vec<String>>> => skills_dirs: Vec<String>, required, render;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key names of a docs table row's first cell: `` `a`, `b` ``, or
    /// `` `t.a` / `.b` `` where `.b` is relative to the name before it.
    fn documented_names(row: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let cell = row.split('|').nth(1).unwrap_or_default();
        for part in cell.split([',', '/']) {
            let name = part.trim().trim_matches('`');
            match (name.strip_prefix('.'), names.last()) {
                (Some(rest), Some(prev)) => {
                    let parent = prev.rsplit_once('.').map_or("", |(p, _)| p);
                    names.push(format!("{parent}.{rest}"));
                }
                _ => names.push(name.to_owned()),
            }
        }
        names
    }

    /// Every scalar key has a row in its top-level table's section of
    /// `docs/configuration.md`, so a new key cannot go undocumented.
    #[test]
    fn every_scalar_key_is_documented_in_its_section() {
        let docs = include_str!("../../docs/configuration.md");
        for key in SCALAR_KEYS {
            let (section, field) = match key.name.split_once('.') {
                Some((section, field)) => (format!("### `[{section}]`"), field),
                None => ("### Top level".to_owned(), key.name),
            };
            let body = docs
                .split_once(section.as_str())
                .map(|(_, rest)| rest.split("\n### ").next().unwrap_or(rest))
                .unwrap_or_else(|| panic!("no section {section} for `{}`", key.name));
            let documented = body
                .lines()
                .filter(|l| l.starts_with('|'))
                .any(|l| documented_names(l).iter().any(|n| n == field));
            assert!(documented, "`{}` has no row under {section}", key.name);
        }
    }

    /// Keys written by hand outside the table (module doc), as
    /// `profiles show` names them once list indices and map keys are cut.
    const COMPOUND_KEYS: &[&str] = &[
        "rules_files",
        "sandbox.writable_roots",
        "sandbox.deny_read",
        "sandbox.protected",
        "sandbox.env.pass",
        "sandbox.env.set",
        "auto_review.policy",
        "auto_review.policy_file",
        "auto_review.extra_policy",
        "mcp_servers",
    ];

    /// A provenance key without its list index or map key
    /// (`sandbox.deny_read[3]`, `sandbox.env.set.CI`, `mcp_servers.gh.env`).
    fn key_of_entry(key: &str) -> &str {
        let key = key.split_once('[').map_or(key, |(k, _)| k);
        if key.starts_with("mcp_servers.") {
            return "mcp_servers";
        }
        key.strip_prefix("sandbox.env.set.")
            .map_or(key, |_| "sandbox.env.set")
    }

    fn scalar(name: &str) -> &'static KeyDoc {
        SCALAR_KEYS
            .iter()
            .find(|k| k.name == name)
            .unwrap_or_else(|| panic!("`{name}` is not in the key table"))
    }

    /// `warden profiles show` (the provenance) names every required scalar
    /// key of the table exactly once under every built-in profile, an
    /// optional one at most once, and nothing that is in neither the table
    /// nor the hand-written compound keys.
    #[test]
    fn profiles_show_agrees_with_the_key_table() {
        for (profile, _) in crate::config::builtin_profiles() {
            let loaded =
                crate::config::load(&crate::config::LoadOptions::builtin(profile)).unwrap();
            for key in SCALAR_KEYS {
                let shown = loaded
                    .provenance
                    .iter()
                    .filter(|p| p.key == key.name)
                    .count();
                let optional = key.ty.starts_with("Option<");
                assert!(
                    shown == 1 || (optional && shown == 0),
                    "{profile}: `{}` shown {shown} times",
                    key.name
                );
            }
            for p in &loaded.provenance {
                let key = key_of_entry(&p.key);
                assert!(
                    SCALAR_KEYS.iter().any(|k| k.name == key) || COMPOUND_KEYS.contains(&key),
                    "{profile}: `profiles show` names `{}`, which no table declares",
                    p.key
                );
            }
        }
    }

    /// Every scalar key of the table can be set with `-c KEY=VALUE`, and
    /// `profiles show` then names the override as its source: the value
    /// the built-in profile shows (so the round trip is the rendering
    /// too), or a sample for an optional key the profile leaves unset.
    #[test]
    fn every_scalar_key_is_settable_with_dash_c() {
        use crate::config::LayerKind;
        let base = crate::config::load(&crate::config::LoadOptions::builtin("dev")).unwrap();
        for key in SCALAR_KEYS {
            let value = base
                .provenance
                .iter()
                .find(|p| p.key == key.name)
                .map(|p| p.value.clone())
                .unwrap_or_else(|| match key.ty {
                    "Option<u64>" => "123".to_owned(),
                    "Option<String>" => "\"https://models.example.invalid/v1\"".to_owned(),
                    other => panic!("`{}`: no sample value for {other}", key.name),
                });
            let opts = crate::config::LoadOptions {
                overrides: vec![format!("{}={value}", key.name)],
                ..crate::config::LoadOptions::builtin("dev")
            };
            let loaded = crate::config::load(&opts)
                .unwrap_or_else(|e| panic!("-c {}={value}: {e}", key.name));
            let shown = loaded
                .provenance
                .iter()
                .find(|p| p.key == key.name)
                .unwrap_or_else(|| panic!("`{}` not shown after -c", key.name));
            assert_eq!(shown.layer, LayerKind::Override, "{}", key.name);
            assert_eq!(shown.value, value, "{}", key.name);
        }
    }

    /// Every key the documentation's key tables name is a key: a scalar of
    /// the table or a compound key (the reverse of
    /// `every_scalar_key_is_documented_in_its_section`).
    #[test]
    fn every_documented_key_is_in_the_key_table() {
        let docs = include_str!("../../docs/configuration.md");
        let keys = docs
            .split_once("\n## Keys")
            .and_then(|(_, rest)| rest.split("\n## ").next())
            .expect("docs/configuration.md has a ## Keys chapter");
        let mut checked = 0;
        for section in keys.split("\n### ").skip(1) {
            let heading = section.lines().next().unwrap_or_default();
            let table = match heading {
                "Top level" => String::new(),
                h if h.starts_with("`[") && !h.starts_with("`[[") && !h.contains("NAME") => h
                    .trim_matches(|c| c == '`' || c == '[' || c == ']')
                    .to_owned(),
                _ => continue, // rule arrays and MCP servers: their own checks
            };
            for row in section.lines().filter(|l| l.starts_with("| `")) {
                for name in documented_names(row) {
                    let full = if table.is_empty() {
                        name
                    } else {
                        format!("{table}.{name}")
                    };
                    let known = SCALAR_KEYS.iter().any(|k| k.name == full)
                        || COMPOUND_KEYS.contains(&full.as_str());
                    assert!(
                        known,
                        "docs/configuration.md documents `{full}`, which is no key"
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            checked >= SCALAR_KEYS.len(),
            "only {checked} documented keys found"
        );
        // Spot check of the helpers this relies on.
        assert_eq!(scalar("agent.token_budget").ty, "Option<u64>");
        assert_eq!(key_of_entry("sandbox.env.set.CI"), "sandbox.env.set");
    }

    #[test]
    fn relative_names_in_a_docs_row() {
        assert_eq!(
            documented_names("| `circuit_breaker.window` / `.max_in_window` | x |"),
            ["circuit_breaker.window", "circuit_breaker.max_in_window"]
        );
        assert_eq!(
            documented_names("| `model`, `base_url` | x |"),
            ["model", "base_url"]
        );
    }

    #[test]
    fn names_are_dotted_table_paths() {
        let names: Vec<_> = SCALAR_KEYS.iter().map(|k| k.name).collect();
        assert!(names.contains(&"auto_review.circuit_breaker.max_in_window"));
        assert!(names.contains(&"approval_policy"));
        let ty = SCALAR_KEYS
            .iter()
            .find(|k| k.name == "agent.model")
            .unwrap()
            .ty;
        assert_eq!(ty, "Option<String>");
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a key is listed twice");
    }
}

//! The table of scalar config keys: each is one row (its builder slot, its
//! dotted name as its table path, its type, whether a profile must set it,
//! how it is shown), the way ripgrep defines each flag once.
//!
//! From the row come: the builder slot ([`Scalars`]), folding a layer into
//! it (highest layer wins, with the layer and `file:line:col` that set it),
//! taking the value out for the resolved [`super::Config`] with its
//! provenance under the dotted name (`warden profiles show`), and the key
//! list [`SCALAR_KEYS`] the documentation is checked against. Parsing stays
//! with serde (`raw.rs`: the row's field must exist in its raw table, which
//! the compiler checks), so `-c` overrides and unknown-key suggestions are
//! unchanged.
//!
//! Compound keys stay hand-written in `merge.rs`/`resolve.rs`: the appended
//! security lists (`deny_read`, `protected`, `writable_roots`,
//! `env.pass`), the rule arrays (`command_rules`, `review_rules`,
//! `rules_files`: each entry is checked, located and ordered), maps merged
//! key by key (`env.set`, `mcp_servers`), and the reviewer policy
//! (`policy`/`policy_file`/`extra_policy`, chosen managed > local >
//! default).
//!
//! Imports: `config::{merge, provenance, raw, resolve, schema}` only.

use std::time::Duration;

use super::ConfigError;
use super::merge::LayerCtx;
use super::provenance::{Set, render, render_duration};
use super::raw::RawLayer;
use super::resolve::Taker;
use crate::config::schema::{
    Conclusion, GitMode, Granular, NetworkMode, ProviderKind, ReviewerKind, SandboxFallback,
    SandboxMode,
};

/// One documented scalar key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// Dotted path (`agent.max_turns`).
    pub name: &'static str,
    /// The resolved Rust type (`u32`, `Duration`, `Option<String>` …).
    pub ty: &'static str,
}

macro_rules! scalar_keys {
    ($(
        $slot:ident = [$($section:ident)*] $field:ident : $ty:ty, $need:ident, $show:expr;
    )*) => {
        /// One slot per scalar key: the highest layer that sets it wins.
        #[derive(Debug, Default)]
        pub struct Scalars {
            $(pub $slot: Option<Set<$ty>>,)*
        }

        /// Every scalar key, in table order.
        pub const SCALAR_KEYS: &[KeyDoc] = &[$(KeyDoc {
            name: concat!($(stringify!($section), ".",)* stringify!($field)),
            ty: scalar_keys!(@ty $need $ty),
        },)*];

        impl Scalars {
            /// Take this layer's scalar keys out of `raw` (the rest of the
            /// layer is folded by `merge.rs`).
            pub fn apply(&mut self, ctx: &LayerCtx<'_>, raw: &mut RawLayer) {
                $(
                    let value = Some(&mut *raw)
                        $(.and_then(|r| r.$section.as_mut()))*
                        .and_then(|r| r.$field.take());
                    if let Some(v) = value {
                        self.$slot = Some(ctx.set(v).map(Into::into));
                    }
                )*
            }

            $(
                #[doc = concat!("`", $(stringify!($section), ".",)* stringify!($field), "`, with its provenance.")]
                pub fn $slot(&mut self, t: &mut Taker) -> scalar_keys!(@out $need $ty) {
                    let name = concat!($(stringify!($section), ".",)* stringify!($field));
                    scalar_keys!(@take $need, t, name, self.$slot.take(), $show)
                }
            )*
        }
    };
    (@ty required $ty:ty) => { stringify!($ty) };
    (@ty optional $ty:ty) => { concat!("Option<", stringify!($ty), ">") };
    (@out required $ty:ty) => { Result<$ty, ConfigError> };
    (@out optional $ty:ty) => { Option<$ty> };
    (@take required, $t:ident, $name:ident, $slot:expr, $show:expr) => { $t.value($name, $slot, $show) };
    (@take optional, $t:ident, $name:ident, $slot:expr, $show:expr) => { $t.optional($name, $slot, $show) };
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

scalar_keys! {
    approval_policy = [] approval_policy: Granular, required, granular;
    approvals_reviewer = [] approvals_reviewer: ReviewerKind, required, render;
    sandbox_mode = [] sandbox_mode: SandboxMode, required, render;
    sandbox_fallback = [] sandbox_fallback: SandboxFallback, required, render;
    network = [sandbox] network: NetworkMode, required, render;
    git = [sandbox] git: GitMode, required, render;
    timeout = [sandbox] timeout: Duration, required, duration;
    output_limit = [sandbox] output_limit: usize, required, render;
    ar_provider = [auto_review] provider: ProviderKind, required, render;
    ar_model = [auto_review] model: String, optional, render;
    ar_base_url = [auto_review] base_url: String, optional, render;
    ar_timeout = [auto_review] timeout: Duration, required, duration;
    ar_max_attempts = [auto_review] max_attempts: u32, required, render;
    transcript_budget = [auto_review] transcript_budget: usize, required, render;
    breaker_consecutive = [auto_review circuit_breaker] consecutive: u32, required, render;
    breaker_window = [auto_review circuit_breaker] window: u32, required, render;
    breaker_max_in_window = [auto_review circuit_breaker] max_in_window: u32, required, render;
    agent_provider = [agent] provider: ProviderKind, required, render;
    agent_model = [agent] model: String, optional, render;
    agent_base_url = [agent] base_url: String, optional, render;
    agent_max_turns = [agent] max_turns: u32, required, render;
    agent_timeout = [agent] timeout: Duration, required, duration;
    agent_token_budget = [agent] token_budget: u64, optional, render;
    agent_tool_output_limit = [agent] tool_output_limit: usize, required, render;
    agent_request_timeout = [agent] request_timeout: Duration, required, duration;
    agent_max_attempts = [agent] max_attempts: u32, required, render;
    on_breaker = [report] on_breaker: Conclusion, required, render;
    on_escalation = [report] on_escalation: Conclusion, required, render;
    on_denial = [report] on_denial: Conclusion, required, render;
    annotate_approvals = [report] annotate_approvals: bool, required, render;
    skills_dirs = [skills] dirs: Vec<String>, required, render;
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

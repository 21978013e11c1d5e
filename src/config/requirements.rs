//! Managed requirements: the organisation's floor, above every layer.
//!
//! Read from `--requirements FILE` (or `WARDEN_REQUIREMENTS`, which clap
//! maps onto the same flag), else `/etc/warden/requirements.toml` when it
//! exists. Requirements can only make a configuration stricter: their rules
//! come first and are marked managed, their deny-read and protected paths are
//! added, their `guardian_policy_config` replaces any local reviewer policy,
//! and a layer that sets something they forbid is an error naming both
//! places (we refuse rather than silently override, so nobody believes a
//! setting is in force when it is not).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::globs::{self, GlobKind};
use super::location::SourceText;
use super::merge::Builder;
use super::parse::parse_toml;
use super::provenance::{LayerKind, Set, render};
use super::raw::{RawCommandRule, RawReviewRule};
use super::rules::{command_rule, review_rule};
use super::{ConfigError, Diagnostic};
use crate::config::schema::{
    CommandRule, NetworkMode, ReviewDecision, ReviewRule, ReviewerKind, SandboxMode,
};
use crate::decision::Source;

/// The system-wide requirements file, consulted when no other is given.
pub const SYSTEM_REQUIREMENTS: &str = "/etc/warden/requirements.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirements {
    allowed_sandbox_modes: Option<Spanned<Vec<SandboxMode>>>,
    allowed_approvals_reviewers: Option<Spanned<Vec<ReviewerKind>>>,
    allow_network: Option<Spanned<bool>>,
    deny_read: Option<Vec<Spanned<String>>>,
    protected: Option<Vec<Spanned<String>>>,
    guardian_policy_config: Option<Spanned<String>>,
    command_rules: Option<Vec<Spanned<RawCommandRule>>>,
    review_rules: Option<Vec<Spanned<RawReviewRule>>>,
}

/// A value from the requirements file and where it was written.
#[derive(Debug, Clone)]
pub struct Required<T> {
    pub value: T,
    pub source: Source,
}

/// Parsed, checked managed requirements.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// The file, as named to the user.
    pub file: String,
    pub allowed_sandbox_modes: Option<Required<Vec<SandboxMode>>>,
    pub allowed_approvals_reviewers: Option<Required<Vec<ReviewerKind>>>,
    pub allow_network: Option<Required<bool>>,
    pub deny_read: Vec<Required<String>>,
    pub protected: Vec<Required<String>>,
    pub guardian_policy_config: Option<Required<String>>,
    /// Marked `managed = true`.
    pub command_rules: Vec<CommandRule>,
    /// Marked `managed = true`.
    pub review_rules: Vec<ReviewRule>,
}

impl Requirements {
    /// Read and check a requirements file.
    pub fn load(path: &Path) -> Result<Requirements, ConfigError> {
        Self::parse(Self::read(path)?)
    }

    /// Read a requirements file (named as given).
    pub fn read(path: &Path) -> Result<SourceText, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(format!("cannot read requirements file `{name}`: {e}"))
                .help("check --requirements / WARDEN_REQUIREMENTS; warden refuses to run without the requirements it was told to enforce")
        })?;
        Ok(SourceText::file(name, text))
    }

    /// Check requirements already in memory (`src.name` names the file).
    pub fn parse(src: SourceText) -> Result<Requirements, ConfigError> {
        let raw: RawRequirements = parse_toml(&src)?;
        let at = |span: &std::ops::Range<usize>| src.line_of(span);
        let non_empty =
            |len: usize, span: std::ops::Range<usize>, key: &str| -> Result<(), ConfigError> {
                if len == 0 {
                    return Err(ConfigError::at(
                        &src,
                        &span,
                        format!("`{key}` is empty, so no configuration could satisfy it"),
                    )
                    .help(format!("list at least one value, or remove `{key}`")));
                }
                Ok(())
            };
        if let Some(list) = &raw.allowed_sandbox_modes {
            non_empty(list.get_ref().len(), list.span(), "allowed_sandbox_modes")?;
        }
        if let Some(list) = &raw.allowed_approvals_reviewers {
            non_empty(
                list.get_ref().len(),
                list.span(),
                "allowed_approvals_reviewers",
            )?;
        }
        let paths = |list: Option<Vec<Spanned<String>>>,
                     key: &str|
         -> Result<Vec<Required<String>>, ConfigError> {
            list.unwrap_or_default()
                .into_iter()
                .map(|p| {
                    if p.get_ref().trim().is_empty() {
                        return Err(ConfigError::at(
                            &src,
                            &p.span(),
                            format!("empty path in `{key}`"),
                        ));
                    }
                    globs::check(&src, &p.span(), p.get_ref(), key, GlobKind::Path)?;
                    Ok(Required {
                        source: at(&p.span()),
                        value: p.into_inner(),
                    })
                })
                .collect()
        };
        let deny_read = paths(raw.deny_read, "deny_read")?;
        let protected = paths(raw.protected, "protected")?;
        let guardian_policy_config = match raw.guardian_policy_config {
            Some(p) if p.get_ref().trim().is_empty() => {
                return Err(
                    ConfigError::at(&src, &p.span(), "`guardian_policy_config` is empty")
                        .help("write the reviewer policy, or remove the key"),
                );
            }
            Some(p) => Some(Required {
                source: at(&p.span()),
                value: p.into_inner(),
            }),
            None => None,
        };
        let command_rules = raw
            .command_rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| command_rule(&src, r, true))
            .collect::<Result<_, _>>()?;
        let review_rules = raw
            .review_rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| review_rule(&src, r, true))
            .collect::<Result<_, _>>()?;
        Ok(Requirements {
            file: src.name.clone(),
            allowed_sandbox_modes: raw.allowed_sandbox_modes.map(|v| Required {
                source: at(&v.span()),
                value: v.into_inner(),
            }),
            allowed_approvals_reviewers: raw.allowed_approvals_reviewers.map(|v| Required {
                source: at(&v.span()),
                value: v.into_inner(),
            }),
            allow_network: raw.allow_network.map(|v| Required {
                source: at(&v.span()),
                value: v.into_inner(),
            }),
            deny_read,
            protected,
            guardian_policy_config,
            command_rules,
            review_rules,
        })
    }
}

/// Enforce and add managed requirements. Call once, after every layer.
/// Every setting a requirement forbids is an error in `b.errors`, at the
/// layer that set it, with the requirement as the secondary place.
pub fn apply(b: &mut Builder, req: &Requirements) {
    let forbidden = |what: String, at: &Source, rule: &Source, allowed: String| {
        ConfigError::located(
            at.clone(),
            format!("{what} is forbidden by managed requirements ({rule}: {allowed})"),
        )
        .label("set in this layer")
        .also(rule.clone(), "the requirement it would weaken")
        .help(format!(
            "requirements cannot be weakened; change the setting at {at} (or override it, e.g. with `-c`) to a value the requirements allow"
        ))
    };
    if let (Some(allowed), Some(mode)) = (&req.allowed_sandbox_modes, &b.scalars.sandbox_mode) {
        if !allowed.value.contains(&mode.value) {
            b.errors.push(forbidden(
                format!("sandbox_mode = \"{}\"", mode.value.as_str()),
                &mode.source,
                &allowed.source,
                format!("allowed_sandbox_modes = {}", render(&allowed.value)),
            ));
        }
    }
    if let (Some(allowed), Some(reviewer)) = (
        &req.allowed_approvals_reviewers,
        &b.scalars.approvals_reviewer,
    ) {
        if !allowed.value.contains(&reviewer.value) {
            b.errors.push(forbidden(
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
        if let Some(net) = b
            .scalars
            .network
            .as_ref()
            .filter(|n| n.value == NetworkMode::On)
        {
            b.errors.push(forbidden(
                "sandbox.network = \"on\"".into(),
                &net.source,
                &allow.source,
                rule(),
            ));
        }
        for (name, server) in &b.mcp_servers {
            if let Some(net) = server.network.as_ref().filter(|n| n.value) {
                b.errors.push(forbidden(
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
            b.warnings.push(
                Diagnostic::located(
                    r.source.clone(),
                    format!(
                        "this rule's network grant is dropped: managed requirements forbid network ({}: allow_network = false)",
                        allow.source
                    ),
                )
                .also(allow.source.clone(), "the requirement"),
            );
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
            b.warnings.push(
                Diagnostic::located(
                    local.source.clone(),
                    format!(
                        "the local reviewer policy is not used: managed guardian_policy_config ({}) wins",
                        policy.source
                    ),
                )
                .also(policy.source.clone(), "the managed policy"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Requirements, ConfigError> {
        Requirements::parse(SourceText::file("req.toml", text))
    }

    #[test]
    fn rules_are_managed_and_keep_their_source() {
        let r = parse(
            "allow_network = false\n\n[[command_rules]]\npattern = [\"curl\"]\ndecision = \"forbidden\"\n\n[[review_rules]]\ndecision = \"deny\"\nhost = [\"*.evil.example\"]\nreason = \"no\"\n",
        )
        .unwrap();
        assert!(r.command_rules[0].managed);
        assert_eq!(r.command_rules[0].source.to_string(), "req.toml:3");
        assert!(r.review_rules[0].managed);
        assert_eq!(r.review_rules[0].source.to_string(), "req.toml:7");
        assert_eq!(r.allow_network.unwrap().source.to_string(), "req.toml:1");
    }

    #[test]
    fn unknown_keys_and_empty_allow_lists_are_errors() {
        let e = parse("allow_netwrk = false\n").unwrap_err();
        assert_eq!(e.location.as_ref().unwrap().to_string(), "req.toml:1:1");
        assert_eq!(e.help.as_deref(), Some("did you mean `allow_network`?"));
        let e = parse("allowed_sandbox_modes = []\n").unwrap_err();
        assert!(e.message.contains("is empty"), "{e}");
    }
}

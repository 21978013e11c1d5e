//! SARIF 2.1.0: each denial and escalation (and approval, with
//! `annotate_approvals`) is a result whose rule id is the deciding layer and
//! rule source (`command_rules/.warden/config.toml:12`), located like the
//! check-run annotation. Uploadable to GitHub code scanning.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::annotations::{Annotation, annotations};
use crate::audit::AuditSummary;
use crate::config::ReportConfig;

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF log of one run.
pub fn render(summary: &AuditSummary, config: &ReportConfig) -> Value {
    let list = annotations(summary, config, None);
    let mut rules: BTreeMap<&str, &Annotation> = BTreeMap::new();
    for a in &list {
        rules.entry(a.rule_id.as_str()).or_insert(a);
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules_json: Vec<Value> = rules
        .keys()
        .map(|id| {
            json!({
                "id": id,
                "name": rule_name(id),
                "shortDescription": { "text": format!("warden decision by {id}") },
            })
        })
        .collect();
    let results: Vec<Value> = list
        .iter()
        .map(|a| {
            let mut result = json!({
                "ruleId": a.rule_id,
                "ruleIndex": rule_index[a.rule_id.as_str()],
                "level": a.level.as_sarif(),
                "message": { "text": a.message },
                "partialFingerprints": {
                    "wardenAction/v1": format!("{}/{}", summary.run_id, a.action_id),
                },
                "properties": {
                    "actionId": a.action_id,
                    "denialId": a.denial_id,
                },
            });
            if let Some(loc) = &a.location {
                let mut region = json!({ "startLine": loc.start_line, "endLine": loc.end_line });
                if let (Some(start), Some(end)) = (loc.start_column, loc.end_column) {
                    region["startColumn"] = json!(start);
                    // SARIF end columns are exclusive.
                    region["endColumn"] = json!(end + 1);
                }
                result["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": { "uri": loc.path, "uriBaseId": "%SRCROOT%" },
                        "region": region,
                    }
                }]);
            }
            result
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "warden",
                "version": summary.warden_version.clone().unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
                "rules": rules_json,
            }
        },
        "automationDetails": { "id": format!("warden/{}", summary.run_id) },
        "results": results,
        "properties": {
            "chainHead": summary.chain.head,
            "records": summary.chain.records,
        },
    });
    if let Some(ws) = &summary.workspace {
        run["originalUriBaseIds"] = json!({ "%SRCROOT%": { "uri": file_uri(ws) } });
    }
    let mut log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [run],
    });
    crate::redact::redact_json(&mut log);
    log
}

/// A rule name in SARIF's PascalCase convention, from the layer.
fn rule_name(id: &str) -> String {
    let layer = id.split('/').next().unwrap_or(id);
    layer
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A `file://` URI for a directory, percent-encoding what a URI path
/// cannot hold.
fn file_uri(dir: &str) -> String {
    let mut uri = String::from("file://");
    for b in dir.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

//! Kept denials and human overrides.
//!
//! The 10 most recent denials (deny or escalate) of a thread are kept in a
//! state file next to the audit log, each with a stable id (`D1`, `D2`, …)
//! that never repeats within the thread. A human overrides one with
//! `warden run --approve D2` (or `WARDEN_APPROVE=D2,D5`): the next run
//! admits exactly that action (same normalised key) once, and records the
//! override. The kept denial is then marked used (in the state file, at the
//! moment it is used), so the same id cannot admit the action again in a
//! later run: a re-run with a stale `WARDEN_APPROVE` fails with exit 2
//! instead of silently repeating the approval.
//!
//! Part of the judge; it may import `action` and `decision`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::decision::{Category, Layer, Outcome};

/// How many denials a thread keeps.
pub const KEPT: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptDenial {
    pub id: String,
    pub key: String,
    pub action: Action,
    pub outcome: Outcome,
    #[serde(default)]
    pub category: Option<Category>,
    pub layer: Layer,
    pub reason: String,
    pub run_id: String,
    /// The run that used this denial's override, once it was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
}

/// The state file's content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DenialState {
    /// The number of the next id (`D{next}`).
    pub next: u64,
    /// Newest last, at most [`KEPT`].
    pub denials: Vec<KeptDenial>,
}

impl DenialState {
    /// Read the state file; a missing file is an empty state, a corrupt one
    /// is an error (never silently reset: ids must stay stable).
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: corrupt denial state: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DenialState {
                next: 1,
                denials: Vec::new(),
            }),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Write atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("state serializes");
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Keep a new denial; returns its id.
    pub fn keep(&mut self, mut denial: KeptDenial) -> String {
        // Never reuse an id, even if the file's counter was edited back.
        let highest = self
            .denials
            .iter()
            .filter_map(|d| d.id.strip_prefix('D')?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        self.next = self.next.max(highest + 1).max(1);
        let id = format!("D{}", self.next);
        self.next += 1;
        denial.id = id.clone();
        self.denials.push(denial);
        if self.denials.len() > KEPT {
            let excess = self.denials.len() - KEPT;
            self.denials.drain(..excess);
        }
        id
    }

    pub fn find(&self, id: &str) -> Option<&KeptDenial> {
        self.denials.iter().find(|d| d.id.eq_ignore_ascii_case(id))
    }

    /// Record that `id`'s override admitted its action in `run_id`.
    /// Returns false when no such denial is kept.
    pub fn mark_used(&mut self, id: &str, run_id: &str) -> bool {
        match self
            .denials
            .iter_mut()
            .find(|d| d.id.eq_ignore_ascii_case(id))
        {
            Some(d) => {
                d.used_by = Some(run_id.to_owned());
                true
            }
            None => false,
        }
    }

    /// Resolve `--approve` ids; unknown ids are an error naming what is kept.
    pub fn resolve(&self, ids: &[String]) -> Result<Vec<KeptDenial>, String> {
        ids.iter()
            .map(|id| {
                let d = self.find(id.trim()).ok_or_else(|| {
                    let kept: Vec<&str> = self.denials.iter().map(|d| d.id.as_str()).collect();
                    format!(
                        "unknown denial id `{id}`; this thread keeps: {}",
                        if kept.is_empty() {
                            "none".to_owned()
                        } else {
                            kept.join(", ")
                        }
                    )
                })?;
                if d.layer == Layer::Requirements {
                    return Err(format!(
                        "{} was denied by a managed requirement, which no override can weaken",
                        d.id
                    ));
                }
                if let Some(run) = &d.used_by {
                    return Err(format!(
                        "{} was already used: its override admitted the action once, in run {run}; \
                         if the agent needs it again, a new denial gets a new id to approve",
                        d.id
                    ));
                }
                Ok(d.clone())
            })
            .collect()
    }
}

/// The state file next to an audit log: `<dir>/denials.json`.
pub fn state_path(audit_path: &Path) -> PathBuf {
    audit_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("denials.json")
}

/// `--approve` values plus `WARDEN_APPROVE=D2,D5`.
pub fn approve_ids(flags: &[String], env: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = flags
        .iter()
        .flat_map(|f| f.split(','))
        .chain(env.into_iter().flat_map(|e| e.split(',')))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(n: usize) -> KeptDenial {
        KeptDenial {
            id: String::new(),
            key: format!("k{n}"),
            action: Action::Read {
                path: format!("/x/{n}").into(),
            },
            outcome: Outcome::Deny,
            category: Some(Category::SandboxApproval),
            layer: Layer::AutoReject,
            reason: "r".into(),
            run_id: "run".into(),
            used_by: None,
        }
    }

    #[test]
    fn keeps_ten_with_stable_ids() {
        let mut s = DenialState::default();
        let ids: Vec<String> = (0..12).map(|n| s.keep(denial(n))).collect();
        assert_eq!(ids[0], "D1");
        assert_eq!(ids[11], "D12");
        assert_eq!(s.denials.len(), KEPT);
        assert!(s.find("D2").is_none(), "oldest dropped");
        assert_eq!(s.find("d12").unwrap().key, "k11");
    }

    #[test]
    fn roundtrips_and_rejects_unknown_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("denials.json");
        let mut s = DenialState::load(&path).unwrap();
        s.keep(denial(1));
        s.save(&path).unwrap();
        let back = DenialState::load(&path).unwrap();
        assert_eq!(back, s);
        assert!(back.resolve(&["D1".into()]).is_ok());
        let err = back.resolve(&["D9".into()]).unwrap_err();
        assert!(err.contains("D1"), "{err}");
        std::fs::write(&path, "{not json").unwrap();
        assert!(DenialState::load(&path).is_err());
    }

    #[test]
    fn managed_denials_cannot_be_overridden() {
        let mut s = DenialState::default();
        let mut d = denial(1);
        d.layer = Layer::Requirements;
        s.keep(d);
        assert!(s.resolve(&["D1".into()]).is_err());
    }

    #[test]
    fn approve_ids_merge_flag_and_env() {
        assert_eq!(
            approve_ids(&["D2".into(), "D3,D4".into()], Some("D5, D2")),
            vec!["D2", "D3", "D4", "D5"]
        );
    }

    #[test]
    fn a_used_override_cannot_be_used_again() {
        let mut s = DenialState::default();
        s.keep(denial(1));
        assert!(s.mark_used("d1", "r-2"));
        let err = s.resolve(&["D1".into()]).unwrap_err();
        assert!(err.contains("already used") && err.contains("r-2"), "{err}");
        assert!(!s.mark_used("D7", "r-2"));
    }

    #[test]
    fn ids_never_repeat_even_with_a_stale_counter() {
        let mut s = DenialState::default();
        s.keep(denial(1));
        s.keep(denial(2));
        s.next = 1; // edited back by hand
        assert_eq!(s.keep(denial(3)), "D3");
    }
}

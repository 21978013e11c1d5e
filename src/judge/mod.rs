//! The judge: the one place an action is decided, with everything a run
//! remembers about earlier decisions.
//!
//! A [`Judge`] owns the compiled [`Pipeline`], the reviewer, the run memory
//! ([`memory`]: cache, repeated-denial short-circuit, overrides to honour),
//! the circuit breaker ([`breaker`]), the kept denials ([`denials`]) and the
//! session grants of approved `request_permissions`. [`Judge::decide`]
//! decides one action and, before it returns, has written its records to
//! the run's audit log in the write-ahead order:
//!
//! 1. `action_proposed`;
//! 2. the kept-denial file saved (a new denial's id `D3` exists on disk
//!    before any record names it);
//! 3. `decided` (with the denial id and whether the memory answered);
//! 4. `overridden`, then the kept denial marked used (saved), when a human
//!    override admitted the action;
//! 5. `breaker_tripped`, when this decision tripped the breaker.
//!
//! Records are written buffered (in the file, not yet fsynced); the caller
//! makes a batch durable with one [`SharedLog::sync`] before anything it
//! decided runs (the agent loop syncs once per model turn).
//!
//! Every decider goes through it: the agent loop (built-in and MCP tools),
//! `warden check` and `warden policy test` ([`Judge::evaluate`], which
//! neither remembers nor records); a proxy or a hook holds an
//! `Arc<Judge>`. `decide` takes `&self`: the run state sits behind an async
//! mutex held for the whole decision, reviewer call included, so concurrent
//! callers are decided one at a time and the memory, the breaker and the
//! audit log see the same order.
//!
//! It may import `config`, `action`, `decision`, `policy`, `review` and
//! `audit` (the sink it writes to, which imports none of these stages);
//! never `agent`, `run`, `mcp` or `cli`.

use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::Mutex;

use crate::action::Action;
use crate::audit::{Event, SharedLog};
use crate::config::BreakerConfig;
use crate::decision::{Decision, Grants, Layer, Outcome};
use crate::policy::pipeline::Pipeline;
use crate::policy::run_writes::RunWrites;
use crate::review::{ReviewContext, Reviewer};

mod ask;
pub mod breaker;
pub mod denials;
pub mod memory;
#[cfg(test)]
mod tests;

pub use ask::{ask_reviewer, decide_once};
use breaker::{Breaker, Trip};
use denials::{DenialState, KeptDenial};
use memory::RunMemory;

/// Where a run's decisions are recorded and its denials kept.
pub struct RunRecords {
    pub audit: SharedLog,
    /// The thread's kept denials, as loaded.
    pub denials: DenialState,
    /// Their state file; `None` keeps them in memory only.
    pub denials_path: Option<PathBuf>,
    /// Kept denials a human overrode for this run (`--approve D2`).
    pub overrides: Vec<KeptDenial>,
    pub breaker: BreakerConfig,
    /// Who approved the overrides, for the audit log (`--approve`, or the
    /// maintainer a workflow authorized).
    pub approved_by: String,
}

/// One action put to the judge.
#[derive(Debug, Clone, Copy)]
pub struct Proposal<'a> {
    /// The tool that asked (`shell`, `write_file`, `mcp`…), for the record.
    pub tool: &'a str,
    pub action: &'a Action,
    /// What a reviewer may see besides the action.
    pub context: &'a ReviewContext,
}

/// Everything a caller needs about one decided action.
#[derive(Debug, Clone)]
pub struct Judged {
    /// `a1`, `a2`…: the id its records carry.
    pub action_id: String,
    /// The decision with its trace.
    pub decision: Decision,
    /// The kept denial (`D3`) this decision created or repeated.
    pub denial_id: Option<String>,
    /// The run memory answered (cache or repeated denial).
    pub cache_hit: bool,
    /// The kept denial whose human override this decision consumed.
    pub override_used: Option<String>,
    /// This decision tripped the breaker (at most once per run).
    pub breaker: Option<Trip>,
    /// What the action may use when it runs: the decision's grants plus the
    /// session's (earlier approved `request_permissions`).
    pub grants: Grants,
}

/// What the judge remembers during a run.
struct RunState {
    memory: RunMemory,
    breaker: Breaker,
    denials: DenialState,
    session_grants: Grants,
    next_action: u64,
}

pub struct Judge {
    pipeline: Pipeline,
    reviewer: Option<Box<dyn Reviewer>>,
    audit: Option<SharedLog>,
    denials_path: Option<PathBuf>,
    approved_by: String,
    state: Mutex<RunState>,
}

impl Judge {
    /// A judge without records: decisions are remembered (cache, repeated
    /// denials, breaker) but not written anywhere, and no denial is kept.
    pub fn new(pipeline: Pipeline, reviewer: Option<Box<dyn Reviewer>>) -> Self {
        let breaker = Breaker::new(pipeline.config().auto_review.circuit_breaker);
        Judge {
            pipeline,
            reviewer,
            audit: None,
            denials_path: None,
            approved_by: String::new(),
            state: Mutex::new(RunState {
                memory: RunMemory::default(),
                breaker,
                denials: DenialState::default(),
                session_grants: Grants::default(),
                next_action: 0,
            }),
        }
    }

    /// The judge of one run, recording to its audit log and keeping its
    /// denials.
    pub fn for_run(
        pipeline: Pipeline,
        reviewer: Option<Box<dyn Reviewer>>,
        records: RunRecords,
    ) -> Self {
        Judge {
            pipeline,
            reviewer,
            audit: Some(records.audit),
            denials_path: records.denials_path,
            approved_by: records.approved_by,
            state: Mutex::new(RunState {
                memory: RunMemory::new(records.overrides),
                breaker: Breaker::new(records.breaker),
                denials: records.denials,
                session_grants: Grants::default(),
                next_action: 0,
            }),
        }
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// A what-if decision (`warden check`, `warden policy test`): the
    /// pipeline and the reviewer, as if `writes` were the run's writes so
    /// far. Neither remembered nor recorded, and it feeds no breaker.
    pub async fn evaluate(
        &self,
        action: &Action,
        writes: &RunWrites,
        context: &ReviewContext,
    ) -> Decision {
        ask_reviewer(
            &self.pipeline,
            action,
            writes,
            self.reviewer.as_deref(),
            context,
        )
        .await
    }

    /// A new model turn's calls are about to be decided: every call
    /// decided before has run (or the run ended).
    pub async fn begin_turn(&self) {
        self.state.lock().await.memory.begin_turn();
    }

    /// Reviewer calls made so far (for stats and benchmarks).
    pub async fn reviewer_calls(&self) -> u64 {
        self.state.lock().await.memory.reviewer_calls
    }

    /// Decide one action and write its records (see the module doc for
    /// their order). An `Err` is an audit log that could not be written:
    /// the caller must not run the action, nor anything after it.
    pub async fn decide(&self, proposal: Proposal<'_>) -> std::io::Result<Judged> {
        let Proposal {
            tool,
            action,
            context,
        } = proposal;
        let mut state = self.state.lock().await;
        let state = &mut *state;
        state.next_action += 1;
        let action_id = format!("a{}", state.next_action);
        self.record(Event::ActionProposed {
            action_id: action_id.clone(),
            tool: tool.to_owned(),
            action: action.clone(),
        })?;
        let t0 = Instant::now();
        let remembered = state
            .memory
            .decide(&self.pipeline, action, self.reviewer.as_deref(), context)
            .await;
        let latency_ms = t0.elapsed().as_millis() as u64;
        let decision = remembered.decision;
        let denial_id = self.keep_denial(&mut state.denials, action, &decision);
        self.record(Event::Decided {
            action_id: action_id.clone(),
            decision: decision.clone(),
            denial_id: denial_id.clone(),
            cache_hit: remembered.cache_hit,
            latency_ms,
        })?;
        if let Some(id) = &remembered.override_of {
            self.record(Event::Overridden {
                denial_id: id.clone(),
                action_id: action_id.clone(),
                by: self.approved_by.clone(),
            })?;
            self.mark_override_used(&mut state.denials, id);
        }
        state
            .memory
            .remember_denial(action, denial_id.clone(), &decision);
        let mut breaker = None;
        if decision.is_review()
            && let Some(trip) = state.breaker.record(decision.outcome.counts_as_denial())
        {
            self.record_trip(&trip)?;
            breaker = Some(trip);
        }
        let mut grants = Grants::default();
        if decision.outcome.is_allowed() {
            grants = decision.grants.clone();
            grants
                .network
                .extend(state.session_grants.network.iter().cloned());
            grants
                .write
                .extend(state.session_grants.write.iter().cloned());
            if let (
                Action::RequestPermissions {
                    writable_roots,
                    hosts,
                    ..
                },
                Outcome::Approve,
            ) = (action, decision.outcome)
            {
                let session = &mut state.session_grants;
                session.write.extend(writable_roots.iter().cloned());
                session.network.extend(hosts.iter().cloned());
            }
        }
        Ok(Judged {
            action_id,
            decision,
            denial_id,
            cache_hit: remembered.cache_hit,
            override_used: remembered.override_of,
            breaker,
            grants,
        })
    }

    /// A command that ran changed protected paths, which the sandbox
    /// restored (`sandbox.git = "commit"`): a sandbox refusal, counted by
    /// the breaker like a denial. The change itself is in the command's
    /// `executed` record; a trip is written here.
    pub async fn sandbox_refusal(&self) -> std::io::Result<Option<Trip>> {
        let mut state = self.state.lock().await;
        let Some(trip) = state.breaker.record(true) else {
            return Ok(None);
        };
        self.record_trip(&trip)?;
        Ok(Some(trip))
    }

    /// The `breaker_tripped` record of `trip`.
    fn record_trip(&self, trip: &Trip) -> std::io::Result<()> {
        self.record(Event::BreakerTripped {
            consecutive: trip.consecutive,
            in_window: trip.in_window,
            window: trip.window,
            reason: trip.describe(),
        })
    }

    /// Write one record (buffered); without an audit log, nothing.
    fn record(&self, event: Event) -> std::io::Result<()> {
        match &self.audit {
            Some(log) => log.append_buffered(event),
            None => Ok(()),
        }
    }

    /// Keep a denial or escalation in the thread's state file; returns its
    /// id. Repeated denials reuse the first id and are not kept twice.
    /// Without an audit log (no run) nothing is kept.
    fn keep_denial(
        &self,
        denials: &mut DenialState,
        action: &Action,
        decision: &Decision,
    ) -> Option<String> {
        let audit = self.audit.as_ref()?;
        if !decision.outcome.counts_as_denial() {
            return None;
        }
        if decision.layer == Layer::RepeatedDenial {
            let key = action.normalized_key();
            return denials
                .denials
                .iter()
                .rev()
                .find(|d| d.key == key)
                .map(|d| d.id.clone());
        }
        let id = denials.keep(KeptDenial {
            id: String::new(),
            key: action.normalized_key(),
            action: action.clone(),
            outcome: decision.outcome,
            category: decision.category,
            layer: decision.layer,
            reason: decision.reason.clone(),
            run_id: audit.run_id().to_owned(),
            used_by: None,
        });
        if let Some(path) = &self.denials_path
            && let Err(e) = denials.save(path)
        {
            tracing::warn!("could not save kept denials: {e}");
        }
        Some(id)
    }

    /// An override admits its action once: mark the kept denial used before
    /// the action runs, so no later run can use the same id again.
    fn mark_override_used(&self, denials: &mut DenialState, id: &str) {
        let Some(audit) = &self.audit else { return };
        if denials.mark_used(id, audit.run_id())
            && let Some(path) = &self.denials_path
            && let Err(e) = denials.save(path)
        {
            tracing::warn!("could not record that override {id} was used: {e}");
        }
    }
}

//! The circuit breaker: stops an agent that keeps knocking on a locked door.
//!
//! Per turn (one `warden run` prompt is one turn), every adjudicated
//! boundary crossing is a review. Deny, auto-reject and escalate count as
//! denials; an approval resets the consecutive count. The breaker trips when
//! `consecutive` denials happen in a row, or when `max_in_window` of the last
//! `window` reviews were denials — whichever first holds — and trips at most
//! once per turn.
//!
//! Part of the judge; it may import `config` only.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::config::BreakerConfig;

/// Why the breaker tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripReason {
    Consecutive,
    Window,
}

/// The state at the moment of the trip, for the audit log and report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    pub reason: TripReason,
    pub consecutive: u32,
    pub in_window: u32,
    pub window: u32,
}

impl Trip {
    pub fn describe(&self) -> String {
        match self.reason {
            TripReason::Consecutive => format!(
                "{} consecutive denials: the agent kept trying refused actions",
                self.consecutive
            ),
            TripReason::Window => format!(
                "{} denials within the last {} reviews",
                self.in_window, self.window
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    consecutive: u32,
    /// true = denial, newest at the back, at most `window` long.
    recent: VecDeque<bool>,
    in_window: u32,
    tripped: Option<Trip>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            consecutive: 0,
            recent: VecDeque::with_capacity(config.window as usize),
            in_window: 0,
            tripped: None,
        }
    }

    /// Record one review. Returns the trip the first time the breaker trips
    /// in this turn; `None` otherwise (including every review after a trip).
    pub fn record(&mut self, denied: bool) -> Option<Trip> {
        if denied {
            self.consecutive += 1;
        } else {
            self.consecutive = 0;
        }
        self.recent.push_back(denied);
        if denied {
            self.in_window += 1;
        }
        if self.recent.len() > self.config.window as usize && self.recent.pop_front() == Some(true)
        {
            self.in_window -= 1;
        }
        if self.tripped.is_some() {
            return None;
        }
        let reason = if self.consecutive >= self.config.consecutive {
            TripReason::Consecutive
        } else if self.in_window >= self.config.max_in_window {
            TripReason::Window
        } else {
            return None;
        };
        let trip = Trip {
            reason,
            consecutive: self.consecutive,
            in_window: self.in_window,
            window: self.config.window,
        };
        self.tripped = Some(trip);
        Some(trip)
    }

    pub fn tripped(&self) -> Option<Trip> {
        self.tripped
    }

    /// Start a new turn: counts and the trip are per turn.
    pub fn new_turn(&mut self) {
        *self = Breaker::new(self.config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig::default())
    }

    #[test]
    fn three_in_a_row_trips() {
        let mut b = breaker();
        assert_eq!(b.record(true), None);
        assert_eq!(b.record(true), None);
        let trip = b.record(true).expect("third consecutive denial trips");
        assert_eq!(trip.reason, TripReason::Consecutive);
        assert_eq!(b.record(true), None, "never twice in one turn");
    }

    #[test]
    fn approval_resets_the_run() {
        let mut b = breaker();
        let mut trip_at = None;
        // deny, deny, approve, …: never 3 in a row, so only the window trips.
        for i in 0..30 {
            if b.record(i % 3 != 2).is_some() {
                trip_at = Some(i);
                break;
            }
        }
        // Denials at 0,1,3,4,…: the 10th is review 13 (0-based).
        assert_eq!(trip_at, Some(13));
        assert_eq!(b.tripped().map(|t| t.reason), Some(TripReason::Window));
    }

    /// The reference model: recompute everything from the full history.
    fn reference(history: &[bool], cfg: BreakerConfig) -> Option<usize> {
        for i in 0..history.len() {
            let upto = &history[..=i];
            let consecutive = upto.iter().rev().take_while(|d| **d).count() as u32;
            let start = upto.len().saturating_sub(cfg.window as usize);
            let in_window = upto[start..].iter().filter(|d| **d).count() as u32;
            if consecutive >= cfg.consecutive || in_window >= cfg.max_in_window {
                return Some(i);
            }
        }
        None
    }

    proptest! {
        #[test]
        fn matches_the_reference_model(
            turns in prop::collection::vec(prop::collection::vec(any::<bool>(), 0..120), 1..4),
            consecutive in 1u32..6,
            window in 1u32..60,
            max_in_window in 1u32..15,
        ) {
            let max_in_window = max_in_window.min(window);
            let cfg = BreakerConfig { consecutive, window, max_in_window };
            let mut b = Breaker::new(cfg);
            for history in turns {
                b.new_turn();
                let mut trips = Vec::new();
                for (i, denied) in history.iter().enumerate() {
                    if b.record(*denied).is_some() {
                        trips.push(i);
                    }
                }
                prop_assert!(trips.len() <= 1, "tripped twice: {trips:?}");
                prop_assert_eq!(trips.first().copied(), reference(&history, cfg));
            }
        }
    }
}

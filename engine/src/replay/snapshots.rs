//! Keeping snapshots of a run every K ticks within a memory budget, so that any earlier tick
//! is one restore plus at most K ticks away.

use std::collections::BTreeMap;

use super::{Snapshot, SnapshotError, StateHasher};
use crate::Engine;

/// The default snapshot interval: one second of ticks at the default tick rate.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 60;

/// The default memory budget of the snapshots of one run: 256 MiB.
pub const DEFAULT_SNAPSHOT_BUDGET: usize = 256 * 1024 * 1024;

/// How often a run keeps a snapshot and how much memory they may take.
///
/// When the snapshots outgrow the budget, every other one is dropped (the first is kept):
/// the interval doubles, so memory stays bounded on runs of any length and seeking costs
/// one restore plus at most the current interval in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Ticks between snapshots (at least 1).
    pub every: u64,
    /// Bytes all snapshots may hold together (about; the newest is always kept).
    pub budget: usize,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        Self {
            every: DEFAULT_SNAPSHOT_EVERY,
            budget: DEFAULT_SNAPSHOT_BUDGET,
        }
    }
}

impl SnapshotPolicy {
    /// A snapshot every `every` ticks (at least 1) within the default budget.
    pub fn every(every: u64) -> Self {
        Self {
            every: every.max(1),
            ..Self::default()
        }
    }

    /// The same interval with a budget of `bytes`.
    pub fn budget(self, bytes: usize) -> Self {
        Self {
            budget: bytes,
            ..self
        }
    }
}

/// The snapshots of one run, by tick.
#[derive(Debug, Default)]
pub struct Snapshots {
    policy: SnapshotPolicy,
    /// The current interval: the policy's, doubled each time the budget was hit.
    every: u64,
    by_tick: BTreeMap<u64, Snapshot>,
    bytes: usize,
}

impl Snapshots {
    /// No snapshots yet, kept by `policy`.
    pub fn new(policy: SnapshotPolicy) -> Self {
        Self {
            policy,
            every: policy.every.max(1),
            by_tick: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// The ticks between snapshots now (the policy's, doubled while over budget).
    pub fn interval(&self) -> u64 {
        self.every
    }

    /// Bytes held, about.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many snapshots are kept.
    pub fn len(&self) -> usize {
        self.by_tick.len()
    }

    /// True when none is kept.
    pub fn is_empty(&self) -> bool {
        self.by_tick.is_empty()
    }

    /// The ticks of the kept snapshots.
    pub fn ticks(&self) -> impl Iterator<Item = u64> + '_ {
        self.by_tick.keys().copied()
    }

    /// Takes a snapshot of `engine` if its tick is due (a multiple of the interval) and not
    /// taken yet.
    pub fn capture_if_due(
        &mut self,
        engine: &mut Engine,
        state: &StateHasher,
    ) -> Result<(), SnapshotError> {
        let tick = engine.tick_count();
        if !tick.is_multiple_of(self.every) || self.by_tick.contains_key(&tick) {
            return Ok(());
        }
        let snapshot = Snapshot::capture(engine, state)?;
        self.insert(snapshot);
        Ok(())
    }

    /// Keeps `snapshot` (replacing one of the same tick), then thins out while over budget.
    pub fn insert(&mut self, snapshot: Snapshot) {
        self.bytes += snapshot.heap_bytes();
        if let Some(old) = self.by_tick.insert(snapshot.tick(), snapshot) {
            self.bytes -= old.heap_bytes();
        }
        while self.bytes > self.policy.budget && self.by_tick.len() > 2 {
            self.thin_out();
        }
    }

    /// The latest snapshot at or before `tick`.
    pub fn at_or_before(&self, tick: u64) -> Option<&Snapshot> {
        self.by_tick.range(..=tick).next_back().map(|(_, s)| s)
    }

    /// Drops every snapshot after `tick` (the run went another way from there).
    pub fn forget_after(&mut self, tick: u64) {
        let later = self.by_tick.split_off(&tick.saturating_add(1));
        self.bytes -= later.values().map(Snapshot::heap_bytes).sum::<usize>();
    }

    /// Doubles the interval and drops the snapshots off it (the first and the newest stay).
    fn thin_out(&mut self) {
        self.every = self.every.saturating_mul(2);
        let newest = self.by_tick.keys().next_back().copied();
        let first = self.by_tick.keys().next().copied();
        let every = self.every;
        let dropped: Vec<u64> = self
            .by_tick
            .keys()
            .copied()
            .filter(|&t| Some(t) != newest && Some(t) != first && !t.is_multiple_of(every))
            .collect();
        for tick in dropped {
            if let Some(old) = self.by_tick.remove(&tick) {
                self.bytes -= old.heap_bytes();
            }
        }
    }
}

//! Per-tick counters: every queue, every source, the tick's duration, how many systems ran
//! on worker threads and at once; per-system timings live with the schedule
//! ([`Engine::system_timings`](crate::Engine::system_timings)).

use std::time::Duration;

use crate::{QueueTickStats, ingest::SourceTickStats};

/// Counters of the last tick. Reused from tick to tick (no allocation once warm).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickStats {
    /// The tick these counters describe.
    pub tick: u64,
    /// Wall time of the whole tick.
    pub duration: Duration,
    /// Every queue, in registration order.
    pub queues: Vec<(&'static str, QueueTickStats)>,
    /// Every channel source, in registration order.
    pub sources: Vec<SourceTickStats>,
    /// Every timer type (`add_timers` order): `collected` is the timers fired this tick.
    pub timers: Vec<SourceTickStats>,
    /// Systems that ran on a worker thread this tick (not on the thread driving the tick).
    pub systems_on_workers: usize,
    /// The most systems running at the same time this tick: 1 when everything ran one after
    /// another, 2 or more when systems really overlapped.
    pub peak_running: usize,
}

impl TickStats {
    /// The counters of the queue whose type name ends with `name` (e.g. `"Key"`).
    pub fn queue(&self, name: &str) -> Option<QueueTickStats> {
        self.queues
            .iter()
            .find(|(queue, _)| *queue == name || queue.ends_with(&format!("::{name}")))
            .map(|(_, stats)| *stats)
    }

    /// Events readable this tick that no reader consumed, over all queues.
    pub fn unconsumed(&self) -> usize {
        self.queues.iter().map(|(_, stats)| stats.unconsumed).sum()
    }
}

/// How the systems ran since the engine was built: whether the parallel executor really
/// overlapped them (what tests that claim parallelism check).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutorTotals {
    /// Ticks run.
    pub ticks: u64,
    /// Systems run on worker threads, over all ticks.
    pub systems_on_workers: u64,
    /// Ticks in which two or more systems ran at the same time.
    pub ticks_with_overlap: u64,
    /// The most systems running at the same time in any tick.
    pub peak_running: usize,
}

impl ExecutorTotals {
    /// Adds one tick's counters.
    pub(crate) fn add(&mut self, tick: &TickStats) {
        self.ticks += 1;
        self.systems_on_workers += tick.systems_on_workers as u64;
        self.ticks_with_overlap += u64::from(tick.peak_running > 1);
        self.peak_running = self.peak_running.max(tick.peak_running);
    }

    /// True when systems really overlapped in some tick, on a worker thread.
    pub fn overlapped(&self) -> bool {
        self.peak_running > 1 && self.systems_on_workers > 0
    }
}

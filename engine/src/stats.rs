//! Per-tick counters: every queue, every source, the tick's duration; per-system timings
//! live with the schedule ([`Engine::system_timings`](crate::Engine::system_timings)).

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

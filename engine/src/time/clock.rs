//! Where frame time comes from: a real monotonic clock, or a manual one for tests.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// A monotonic clock: time since the clock was created.
pub trait Clock {
    /// Time elapsed since the clock started. Never goes backwards.
    fn now(&self) -> Duration;

    /// Waits for `duration` (a manual clock simply advances).
    fn sleep(&self, duration: Duration);
}

/// The machine's monotonic clock ([`Instant`]).
#[derive(Clone, Copy, Debug)]
pub struct RealClock {
    start: Instant,
}

impl RealClock {
    /// A clock starting now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A clock that only moves when told to. Clones share the same time, so a test can keep one
/// handle and give another to the loop.
///
/// ```
/// use std::time::Duration;
/// use tickbus::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let handle = clock.clone();
/// handle.advance(Duration::from_millis(16));
/// assert_eq!(clock.now(), Duration::from_millis(16));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `duration`. The clock counts nanoseconds in a `u64` (about
    /// 584 years) and stops at its end: it saturates, it never wraps around and goes back.
    pub fn advance(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let add = |now: u64| Some(now.saturating_add(nanos));
        // The closure never returns None, so the update always succeeds.
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, add);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}

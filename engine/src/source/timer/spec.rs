//! What a timer is: its handle, its delay and period in ticks, and the event it fires.

use std::time::Duration;

/// Anything a timer can carry: cloned into every [`TimerFired`] of a repeating timer.
pub trait TimerPayload: Clone + Send + Sync + 'static {}

impl<P: Clone + Send + Sync + 'static> TimerPayload for P {}

/// Names one timer, to cancel it or ask how long it has left.
///
/// A handle is made of the scheduling system's slot (assigned in system registration order
/// when the engine is built), the tick the timer was scheduled in and its number among the
/// timers that system scheduled in that tick. So handles are the same in every run, whatever
/// the thread count, and they stay unique after a [snapshot](crate::replay::Snapshot) is
/// restored (nothing about them lives in a system's private state). A handle is never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerHandle {
    slot: u32,
    tick: u64,
    index: u32,
}

impl TimerHandle {
    pub(crate) fn new(slot: u32, tick: u64, index: u32) -> Self {
        Self { slot, tick, index }
    }

    /// The slot of the system that scheduled the timer (1 for the first system using
    /// [`Timers`](super::Timers) in registration order, 2 for the next, …).
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The tick in which the timer was scheduled.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The timer's number among those its system scheduled in that tick (from 0).
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// A due timer, readable as an event in the tick it is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerFired<P> {
    /// The timer.
    pub handle: TimerHandle,
    /// The tick it was due in (the tick in which this event is readable).
    pub tick: u64,
    /// The payload it was scheduled with.
    pub payload: P,
}

/// A request queued by [`Timers`](super::Timers) and applied by the engine at the start of the
/// next tick (public only because the system parameter's buffer holds it).
#[derive(Clone, Debug, PartialEq)]
pub enum TimerCommand<P> {
    /// Start a timer.
    Schedule {
        /// Its handle.
        handle: TimerHandle,
        /// The first tick it fires in.
        due: u64,
        /// Ticks between firings of a repeating timer; `None` fires once.
        period: Option<u64>,
        /// What it carries.
        payload: P,
    },
    /// Stop a timer (nothing happens if it already fired its last time or was cancelled).
    Cancel(TimerHandle),
}

/// Whole ticks in `delay`, rounded up, at least 1 (a timer never fires in the tick that
/// scheduled it). Saturates at `u64::MAX` ticks instead of overflowing.
///
/// ```
/// use std::time::Duration;
/// use tickbus::timer::ticks_for;
///
/// let dt = Duration::from_millis(10);
/// assert_eq!(ticks_for(Duration::from_millis(30), dt), 3);
/// assert_eq!(ticks_for(Duration::from_millis(31), dt), 4, "rounded up");
/// assert_eq!(ticks_for(Duration::ZERO, dt), 1, "never this tick");
/// ```
pub fn ticks_for(delay: Duration, dt: Duration) -> u64 {
    let dt = dt.as_nanos().max(1);
    let ticks = delay.as_nanos().div_ceil(dt).max(1);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_whole_ticks() {
        let dt = Duration::from_secs(1) / 60;
        // 1/60 s is truncated to 16_666_666 ns, so 60 ticks fall 40 ns short of a second.
        assert_eq!(ticks_for(Duration::from_secs(1), dt), 61);
        assert_eq!(ticks_for(dt * 60, dt), 60);
        assert_eq!(ticks_for(dt + Duration::from_nanos(1), dt), 2);
        assert_eq!(ticks_for(Duration::from_nanos(1), dt), 1);
    }

    #[test]
    fn huge_durations_saturate() {
        assert_eq!(
            ticks_for(Duration::MAX, Duration::from_nanos(1)),
            u64::MAX,
            "no overflow panic"
        );
        assert_eq!(
            ticks_for(Duration::from_secs(5), Duration::ZERO),
            5_000_000_000
        );
    }
}

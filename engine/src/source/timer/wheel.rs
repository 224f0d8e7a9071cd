//! The pending timers of one payload type: a [`DueQueue`] on (due tick, creation order) with
//! lazy cancellation, so a tick costs nothing for timers that are not due.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use bevy_ecs::resource::Resource;

use super::{
    due::{DueEntry, DueQueue},
    spec::{TimerCommand, TimerFired, TimerHandle, TimerPayload},
};

/// Queue entries that no longer match a pending timer (cancelled or rescheduled) are dropped
/// in one pass once they outnumber the live ones by this factor (plus a floor), so memory
/// stays proportional to the pending timers while each cancel stays O(1).
const COMPACT_FACTOR: usize = 2;
const COMPACT_FLOOR: usize = 1024;

/// A multiply-rotate hasher for handles (two integers, not chosen by an adversary): several
/// times cheaper than std's SipHash on the per-timer path, and seeded by nothing.
#[derive(Default)]
struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

type HandleMap<V> = HashMap<TimerHandle, V, BuildHasherDefault<HandleHasher>>;

/// One pending timer.
#[derive(Clone, Debug)]
struct Pending<P> {
    due: u64,
    period: Option<u64>,
    /// Creation order: the order in which the engine accepted the timer's request.
    order: u64,
    payload: P,
}

/// The pending timers of payload type `P`, a resource (read it to inspect timers from
/// anywhere; systems schedule and cancel through [`Timers`](super::Timers)).
///
/// Invariant: every pending timer has exactly one queue entry equal to its
/// `(due, order, handle)`; other entries are stale and skipped when they come due.
#[derive(Resource, Clone)]
pub struct TimerWheel<P: TimerPayload> {
    pending: HandleMap<Pending<P>>,
    queue: DueQueue,
    /// Entries that came due in the current `fire_due` (kept for its capacity).
    due_now: Vec<DueEntry>,
    next_order: u64,
    fired_total: u64,
}

impl<P: TimerPayload> std::fmt::Debug for TimerWheel<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerWheel")
            .field("payload", &std::any::type_name::<P>())
            .field("next_order", &self.next_order)
            .field("fired_total", &self.fired_total)
            .finish_non_exhaustive()
    }
}

impl<P: TimerPayload> Default for TimerWheel<P> {
    fn default() -> Self {
        Self {
            pending: HandleMap::default(),
            queue: DueQueue::default(),
            due_now: Vec::new(),
            next_order: 0,
            fired_total: 0,
        }
    }
}

impl<P: TimerPayload> TimerWheel<P> {
    /// Timers waiting to fire (a repeating timer stays pending until cancelled).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The tick in which `handle` fires next, if it is pending.
    pub fn next_due(&self, handle: TimerHandle) -> Option<u64> {
        self.pending.get(&handle).map(|timer| timer.due)
    }

    /// Firings since this wheel was created (a wheel the user removed comes back at 0).
    pub fn fired_total(&self) -> u64 {
        self.fired_total
    }

    /// Applies queued requests in their order: that order is the creation order of the
    /// timers they start.
    pub(crate) fn apply(&mut self, commands: &[TimerCommand<P>]) {
        for command in commands {
            match command {
                TimerCommand::Schedule {
                    handle,
                    due,
                    period,
                    payload,
                } => self.insert(*handle, *due, *period, payload.clone()),
                TimerCommand::Cancel(handle) => self.cancel(*handle),
            }
        }
        self.compact_if_stale();
    }

    fn insert(&mut self, handle: TimerHandle, due: u64, period: Option<u64>, payload: P) {
        let order = self.next_order;
        self.next_order += 1;
        self.queue.push((due, order, handle));
        let timer = Pending {
            due,
            period: period.map(|p| p.max(1)),
            order,
            payload,
        };
        self.pending.insert(handle, timer);
    }

    /// Forgets the timer; its queue entry goes stale and is skipped (lazy cancellation).
    fn cancel(&mut self, handle: TimerHandle) {
        self.pending.remove(&handle);
    }

    /// Calls `fire` for every timer due at or before `tick`, by (due tick, creation order).
    /// Repeating timers are put back `period` ticks after the tick they were due.
    pub(crate) fn fire_due(&mut self, tick: u64, mut fire: impl FnMut(TimerFired<P>)) -> usize {
        let mut due_now = std::mem::take(&mut self.due_now);
        self.queue.pop_due(tick, &mut due_now);
        let mut fired = 0;
        for (due, order, handle) in due_now.drain(..) {
            if let Some(event) = self.fire_one(due, order, handle) {
                fire(event);
                fired += 1;
            }
        }
        self.due_now = due_now;
        self.fired_total += fired as u64;
        fired
    }

    /// The event of one due entry, or `None` for a stale entry.
    fn fire_one(&mut self, due: u64, order: u64, handle: TimerHandle) -> Option<TimerFired<P>> {
        let timer = self.pending.get_mut(&handle)?;
        if timer.due != due || timer.order != order {
            return None;
        }
        let Some(period) = timer.period else {
            let timer = self.pending.remove(&handle)?;
            return Some(fired(handle, due, timer.payload));
        };
        // Saturating: a timer due at u64::MAX simply never comes back.
        timer.due = due.saturating_add(period);
        let event = fired(handle, due, timer.payload.clone());
        if timer.due > due {
            self.queue.push((timer.due, order, handle));
        } else {
            self.pending.remove(&handle);
        }
        Some(event)
    }

    fn compact_if_stale(&mut self) {
        if self.queue.len() <= COMPACT_FACTOR * self.pending.len() + COMPACT_FLOOR {
            return;
        }
        let live = self
            .pending
            .iter()
            .map(|(&handle, timer)| (timer.due, timer.order, handle));
        self.queue.rebuild(live);
    }
}

fn fired<P>(handle: TimerHandle, tick: u64, payload: P) -> TimerFired<P> {
    TimerFired {
        handle,
        tick,
        payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(handle: u64, due: u64, period: Option<u64>) -> TimerCommand<u64> {
        TimerCommand::Schedule {
            handle: TimerHandle::new(1, handle, 0),
            due,
            period,
            payload: handle,
        }
    }

    fn fire(wheel: &mut TimerWheel<u64>, tick: u64) -> Vec<u64> {
        let mut out = Vec::new();
        wheel.fire_due(tick, |event| out.push(event.payload));
        out
    }

    #[test]
    fn due_timers_fire_by_due_tick_then_creation_order() {
        let mut wheel = TimerWheel::default();
        wheel.apply(&[
            schedule(0, 5, None),
            schedule(1, 3, None),
            schedule(2, 5, None),
        ]);
        wheel.apply(&[schedule(3, 3, None)]);
        assert_eq!(fire(&mut wheel, 2), Vec::<u64>::new());
        assert_eq!(
            fire(&mut wheel, 5),
            vec![1, 3, 0, 2],
            "late collection keeps (due, order)"
        );
        assert!(wheel.is_empty());
    }

    #[test]
    fn repeating_timers_come_back_every_period_and_keep_their_order() {
        let mut wheel = TimerWheel::default();
        wheel.apply(&[schedule(7, 2, Some(3)), schedule(8, 2, Some(3))]);
        let fired: Vec<Vec<u64>> = (0..9).map(|tick| fire(&mut wheel, tick)).collect();
        let ticks_with: Vec<usize> = (0..9).filter(|&t| !fired[t].is_empty()).collect();
        assert_eq!(ticks_with, vec![2, 5, 8]);
        assert!(fired.iter().all(|f| f.is_empty() || f == &vec![7, 8]));
        assert_eq!(wheel.next_due(TimerHandle::new(1, 7, 0)), Some(11));
    }

    #[test]
    fn cancelled_timers_never_fire_and_stale_entries_are_compacted() {
        let mut wheel = TimerWheel::default();
        let many: Vec<_> = (0..5000)
            .map(|i| schedule(i, 1_000_000 + i, None))
            .collect();
        wheel.apply(&many);
        let cancels: Vec<_> = (0..4990)
            .map(|i| TimerCommand::Cancel(TimerHandle::new(1, i, 0)))
            .collect();
        wheel.apply(&cancels);
        assert_eq!(wheel.len(), 10);
        assert!(
            wheel.queue.len() <= 2 * 10 + COMPACT_FLOOR,
            "stale entries dropped"
        );
        assert_eq!(fire(&mut wheel, u64::MAX), (4990..5000).collect::<Vec<_>>());
    }

    #[test]
    fn a_timer_due_at_the_end_of_time_fires_once_without_overflow() {
        let mut wheel = TimerWheel::default();
        wheel.apply(&[schedule(1, u64::MAX, Some(10))]);
        assert_eq!(fire(&mut wheel, u64::MAX - 1), Vec::<u64>::new());
        assert_eq!(fire(&mut wheel, u64::MAX), vec![1]);
        assert!(wheel.is_empty(), "it cannot be rescheduled past u64::MAX");
    }

    #[test]
    fn rescheduling_a_handle_replaces_the_old_timer() {
        let mut wheel = TimerWheel::default();
        wheel.apply(&[schedule(1, 4, None), schedule(1, 6, None)]);
        assert_eq!(fire(&mut wheel, 5), Vec::<u64>::new());
        assert_eq!(fire(&mut wheel, 6), vec![1]);
    }
}

//! The system parameter through which systems schedule, cancel and inspect timers.

use std::time::Duration;

use bevy_ecs::{
    change_detection::Tick,
    prelude::{Local, Res},
    resource::Resource,
    system::SystemChangeTick,
    system::SystemParam,
    world::{FromWorld, World},
};

use super::{
    spec::{TimerCommand, TimerHandle, TimerPayload, ticks_for},
    wheel::TimerWheel,
};
use crate::{EventWriter, SimTime};

/// Hands out one slot per [`Timers`] parameter, in the order systems are initialized
/// (registration order, single-threaded, when the engine is built).
#[derive(Resource, Default)]
struct TimerSlots {
    last: u32,
}

/// The per-system state of a [`Timers`] parameter: its slot and where this tick's requests
/// sit in its buffer. Nothing here outlives a tick (handles are numbered per tick), so a
/// restored snapshot needs none of it.
#[derive(Debug)]
pub struct TimerSlot {
    slot: u32,
    tick: Option<u64>,
    /// bevy's tick of the system run the bookkeeping belongs to: a tick run again (after a
    /// snapshot was restored) is a new run with fresh numbers.
    run: Option<Tick>,
    /// Buffer index of each timer scheduled during `tick`, by its handle's index.
    positions: Vec<usize>,
    /// Older timers cancelled during `tick`.
    cancelled: Vec<TimerHandle>,
}

impl FromWorld for TimerSlot {
    fn from_world(world: &mut World) -> Self {
        let mut slots = world.get_resource_or_init::<TimerSlots>();
        slots.last = slots.last.saturating_add(1);
        Self {
            slot: slots.last,
            tick: None,
            run: None,
            positions: Vec::new(),
            cancelled: Vec::new(),
        }
    }
}

impl TimerSlot {
    /// Forgets the previous run's bookkeeping (its buffer was applied since).
    fn start_tick(&mut self, tick: u64, run: Tick) {
        if self.tick != Some(tick) || self.run != Some(run) {
            self.tick = Some(tick);
            self.run = Some(run);
            self.positions.clear();
            self.cancelled.clear();
        }
    }

    /// Buffer index of a timer this system scheduled during the current tick.
    fn position_of(&self, handle: TimerHandle) -> Option<usize> {
        if handle.slot() != self.slot || Some(handle.tick()) != self.tick {
            return None;
        }
        let offset = usize::try_from(handle.index()).ok()?;
        self.positions.get(offset).copied()
    }
}

/// Schedules, cancels and inspects timers of payload type `P` from a system (register them
/// with [`TimerAppExt::add_timers`](super::TimerAppExt::add_timers)).
///
/// Without `add_timers::<P>()` a system using `Timers<P>` fails every tick with
/// [`TickError::SystemFailed`](crate::TickError::SystemFailed), naming the missing
/// `TimerWheel<P>`.
///
/// # When a timer fires
///
/// A delay of `k` ticks scheduled during tick `N` fires in tick `N + k`: its
/// [`TimerFired`](super::TimerFired) is readable by every system during exactly that tick.
/// `k = 0` counts as 1, so the earliest a timer fires is the tick after the one that created
/// it. A `Duration` becomes whole ticks rounded up ([`ticks_for`]). A repeating timer fires in
/// `N + k`, `N + k + p`, `N + k + 2p`, … until cancelled.
///
/// # Determinism
///
/// Requests go to a buffer owned by the system, like an [`EventWriter`]'s, and the engine
/// applies all buffers at the start of the next tick in system registration order. So
/// creation order is (tick, system registration order, call order within the system), and
/// the handle (system slot, per-system counter) is the same for any thread count. Systems
/// using `Timers` run in parallel with each other.
///
/// # Cancelling
///
/// A cancel requested during tick `N` takes effect before any timer of tick `N + 1` fires,
/// so the timer never fires after tick `N` (a timer due in `N` itself already fired: its
/// event is readable during `N`). A timer created and cancelled in the same tick never fires.
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::timer::{TimerAppExt, TimerFired, Timers};
///
/// #[derive(Clone, Debug, PartialEq)]
/// enum Alarm { Spawn, Heartbeat }
///
/// fn setup(mut timers: Timers<Alarm>) {
///     timers.once_after_ticks(3, Alarm::Spawn);
///     timers.repeat_every_ticks(2, Alarm::Heartbeat);
/// }
///
/// #[derive(Resource, Default)]
/// struct Log(Vec<(u64, Alarm)>);
///
/// fn log(fired: EventReader<TimerFired<Alarm>>, mut log: ResMut<Log>) {
///     log.0.extend(fired.iter().map(|f| (f.tick, f.payload.clone())));
/// }
///
/// let mut app = App::new();
/// app.add_timers::<Alarm>()
///     .init_resource::<Log>()
///     .add_startup_systems(setup)
///     .add_systems(log);
/// let mut engine = app.build()?;
/// engine.run_ticks(5)?;
/// assert_eq!(
///     engine.world().resource::<Log>().0,
///     vec![(2, Alarm::Heartbeat), (3, Alarm::Spawn), (4, Alarm::Heartbeat)],
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(SystemParam)]
pub struct Timers<'w, 's, P: TimerPayload> {
    requests: EventWriter<'s, TimerCommand<P>>,
    state: Local<'s, TimerSlot>,
    wheel: Res<'w, TimerWheel<P>>,
    time: Res<'w, SimTime>,
    run: SystemChangeTick,
}

impl<P: TimerPayload> std::fmt::Debug for Timers<'_, '_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("payload", &std::any::type_name::<P>())
            .field("slot", &*self.state)
            .field("tick", &self.time.tick())
            .finish_non_exhaustive()
    }
}

impl<P: TimerPayload> Timers<'_, '_, P> {
    /// A timer firing once, `ticks` ticks from now (at least 1).
    pub fn once_after_ticks(&mut self, ticks: u64, payload: P) -> TimerHandle {
        self.schedule(ticks, None, payload)
    }

    /// A timer firing once after `delay`, rounded up to whole ticks (at least 1).
    pub fn once_after(&mut self, delay: Duration, payload: P) -> TimerHandle {
        self.schedule(self.ticks_for(delay), None, payload)
    }

    /// A timer firing every `period` ticks (at least 1), first `period` ticks from now.
    pub fn repeat_every_ticks(&mut self, period: u64, payload: P) -> TimerHandle {
        self.schedule(period, Some(period), payload)
    }

    /// A timer firing every `period`, rounded up to whole ticks, first one period from now.
    pub fn repeat_every(&mut self, period: Duration, payload: P) -> TimerHandle {
        let ticks = self.ticks_for(period);
        self.schedule(ticks, Some(ticks), payload)
    }

    /// The general form: first firing `delay` ticks from now (at least 1), then every
    /// `period` ticks (at least 1) if `period` is `Some`.
    pub fn schedule(&mut self, delay: u64, period: Option<u64>, payload: P) -> TimerHandle {
        let now = self.time.tick();
        self.state.start_tick(now, self.run.this_run());
        // Saturating: a system scheduling more than u32::MAX timers in one tick shares the
        // last number, so later ones replace each other instead of wrapping onto old ones.
        let index = u32::try_from(self.state.positions.len()).unwrap_or(u32::MAX);
        let handle = TimerHandle::new(self.state.slot, now, index);
        self.state.positions.push(self.requests.len());
        self.requests.send(TimerCommand::Schedule {
            handle,
            due: now.saturating_add(delay.max(1)),
            period: period.map(|p| p.max(1)),
            payload,
        });
        handle
    }

    /// Cancels a timer (see the type's docs for when it takes effect). Unknown handles and
    /// timers that already fired their last time are ignored.
    pub fn cancel(&mut self, handle: TimerHandle) {
        self.state.start_tick(self.time.tick(), self.run.this_run());
        if let Some(position) = self.state.position_of(handle) {
            // Created during this tick by this system: the request is simply withdrawn.
            self.requests.buffer[position] = TimerCommand::Cancel(handle);
            return;
        }
        self.state.cancelled.push(handle);
        self.requests.send(TimerCommand::Cancel(handle));
    }

    /// Ticks from the current tick until the timer fires next: `k` for a timer this system
    /// just scheduled `k` ticks ahead, `None` once it is not pending (fired its last time,
    /// cancelled by this system, or unknown). A cancel by another system during this tick
    /// shows from the next tick on.
    pub fn remaining_ticks(&self, handle: TimerHandle) -> Option<u64> {
        let now = self.time.tick();
        if self.state.tick == Some(now) && self.state.run == Some(self.run.this_run()) {
            if let Some(position) = self.state.position_of(handle) {
                return match &self.requests.buffer[position] {
                    TimerCommand::Schedule { due, .. } => Some(due.saturating_sub(now)),
                    TimerCommand::Cancel(_) => None,
                };
            }
            if self.state.cancelled.contains(&handle) {
                return None;
            }
        }
        let due = self.wheel.next_due(handle)?;
        Some(due.saturating_sub(now))
    }

    /// Timers of this payload type pending at the start of this tick (not counting requests
    /// made during it).
    pub fn pending(&self) -> usize {
        self.wheel.len()
    }

    /// Whole ticks in `delay`, rounded up, at least 1 (at this engine's tick length).
    pub fn ticks_for(&self, delay: Duration) -> u64 {
        ticks_for(delay, self.time.dt())
    }
}

//! Timers: scheduled from systems, due timers become typed events at the start of a tick.
//!
//! Register a payload type with [`TimerAppExt::add_timers`], schedule with the [`Timers`]
//! system parameter, read [`TimerFired`] events with an [`EventReader`](crate::EventReader).
//!
//! # Life of a timer
//!
//! 1. During tick `N` a system calls [`Timers::once_after_ticks`] (or another scheduling
//!    method) and gets a [`TimerHandle`] at once; the request waits in the system's buffer.
//! 2. At the end of tick `N` the buffers are appended in system registration order.
//! 3. At the start of every tick (DESIGN "One tick", step 2, before any channel source) the
//!    engine applies those requests to the [`TimerWheel`] in that order, then moves every
//!    timer due at or before this tick into the readable buffer of `TimerFired<P>`, ordered by
//!    (due tick, creation order).
//!
//! So a timer created in tick `N` with a delay of `k ≥ 1` ticks is readable during tick
//! `N + k` and no other (a repeating one again every period). Pending timers live in a
//! two-level timing wheel (per-tick buckets for the next 256 ticks, a binary heap beyond);
//! cancelling only forgets the timer and its entry is skipped when it comes due, so a tick in
//! which no timer is due costs a bucket look and a heap peek, whatever is pending.
//!
//! Pending timers, and the requests and firings in flight, are part of every
//! [snapshot](crate::replay::Snapshot) (the game need not register them). Entities inside a
//! payload are restored as they were captured: a payload should name entities through
//! component data rather than hold [`Entity`](bevy_ecs::entity::Entity) values across a
//! restore.
//!
//! Timers count ticks, not wall time: while the [`FixedStep`](crate::FixedStep) is paused no
//! tick runs and no timer gets closer; each single step moves every timer one tick on.

mod due;
mod param;
mod spec;
mod wheel;

use bevy_ecs::{change_detection::DetectChangesMut, world::World};

pub use param::{TimerSlot, Timers};
pub use spec::{TimerCommand, TimerFired, TimerHandle, TimerPayload, ticks_for};
pub use wheel::TimerWheel;

use crate::{
    App, EventQueue, SourceTickStats,
    carry::{CarriedEntities, Carrier, EntityRemap, carry},
    ingest::Collect,
    queue::registry::ensure_queue,
};

/// Adds timers to an [`App`].
pub trait TimerAppExt {
    /// Registers timers with payload type `P`: the [`TimerWheel<P>`] resource, the
    /// `TimerFired<P>` event queue and the collector that fires due timers at the start of
    /// every tick. Calling it again for the same `P` does nothing.
    fn add_timers<P: TimerPayload>(&mut self) -> &mut Self;
}

impl TimerAppExt for App {
    fn add_timers<P: TimerPayload>(&mut self) -> &mut Self {
        if self.world_mut().contains_resource::<TimerWheel<P>>() {
            return self;
        }
        self.init_resource::<TimerWheel<P>>();
        self.add_event::<TimerFired<P>>();
        ensure_queue::<TimerCommand<P>>(self.world_mut());
        let world = self.world_mut();
        carry(world, Carrier::resource::<TimerWheel<P>>("TimerWheel"));
        carry(world, Carrier::queue::<TimerFired<P>>("TimerFired"));
        carry(world, Carrier::queue::<TimerCommand<P>>("TimerCommand"));
        self.add_timer_collector(Box::new(TimerCollector::<P>::new()))
    }
}

// Payloads are the game's own values: entities inside them are not remapped on restore
// (the timers module documents this).
impl<P: TimerPayload> CarriedEntities for TimerWheel<P> {
    fn remap_entities(&mut self, _remap: &mut EntityRemap) {}
}

impl<P: TimerPayload> CarriedEntities for TimerFired<P> {
    fn remap_entities(&mut self, _remap: &mut EntityRemap) {}
}

impl<P: TimerPayload> CarriedEntities for TimerCommand<P> {
    fn remap_entities(&mut self, _remap: &mut EntityRemap) {}
}

/// Applies the requests of the previous tick and fires the due timers of payload type `P`.
struct TimerCollector<P: TimerPayload> {
    name: String,
    total: u64,
    _payload: std::marker::PhantomData<fn() -> P>,
}

impl<P: TimerPayload> TimerCollector<P> {
    fn new() -> Self {
        Self {
            name: format!("timers<{}>", std::any::type_name::<P>()),
            total: 0,
            _payload: std::marker::PhantomData,
        }
    }
}

impl<P: TimerPayload> Collect for TimerCollector<P> {
    fn name(&self) -> &str {
        &self.name
    }

    fn collect(&mut self, world: &mut World, tick: u64) -> SourceTickStats {
        // A user may have removed any of the three: they come back empty (the removed wheel's
        // timers went with it) rather than the tick panicking.
        if !world.contains_resource::<TimerWheel<P>>() {
            world.init_resource::<TimerWheel<P>>();
        }
        ensure_queue::<TimerCommand<P>>(world);
        ensure_queue::<TimerFired<P>>(world);
        let collected =
            world.resource_scope(|world, mut wheel: bevy_ecs::world::Mut<TimerWheel<P>>| {
                let wheel = wheel.bypass_change_detection();
                let requests = world.resource::<EventQueue<TimerCommand<P>>>();
                // The requests are ours alone; marking them read keeps them out of "unconsumed".
                requests.mark_consumed();
                wheel.apply(requests.readable());
                let mut fired = world.resource_mut::<EventQueue<TimerFired<P>>>();
                let fired = fired.bypass_change_detection();
                wheel.fire_due(tick, |event| fired.push_collected(event))
            });
        self.total += collected as u64;
        SourceTickStats {
            collected,
            backlog: 0,
            disconnected: false,
            total: self.total,
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

//! Event writes from code that holds the world itself: exclusive systems, commands, and the
//! time between ticks.

use bevy_ecs::world::World;

use super::registry::with_queue;
use crate::Event;

/// Sends events through a `&mut World`: from an exclusive system, a custom `Command`, or
/// between ticks (setup code, a test, the render side).
///
/// A write through the world is appended to the queue's pending events at once, so it is
/// readable during the next tick, like every other write:
/// * between ticks (and from startup systems), after the events writer systems sent in the
///   tick before; so the next tick reads them;
/// * during a tick (an exclusive system, or a command applied with deferred work), at the
///   moment it happens. The deferred work of the systems that ran before an exclusive system
///   (their [`EventWriter`](crate::EventWriter) buffers, merged in registration order, and
///   their commands) is applied right before it runs, as at a bevy sync point, so its writes
///   come after their events and before those of the systems after it. Its own
///   `EventWriter<T>` parameter, if it takes one next to `&mut World` (bevy 0.20 lets
///   exclusive systems take other parameters), is merged after its direct writes, with the
///   deferred work of the systems that follow it.
///
/// Either way the order depends only on the schedule, never on threads.
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// struct Alarm(u32);
///
/// #[derive(Resource, Default)]
/// struct Heard(Vec<(u64, u32)>);
///
/// fn raise(world: &mut World) {
///     let tick = world.resource::<SimTime>().tick();
///     world.send_event(Alarm(tick as u32 + 10));
/// }
///
/// fn hear(alarms: EventReader<Alarm>, time: Res<SimTime>, mut heard: ResMut<Heard>) {
///     heard.0.extend(alarms.iter().map(|alarm| (time.tick(), alarm.0)));
/// }
///
/// let mut app = App::new();
/// app.init_resource::<Heard>().add_systems((raise, hear));
/// app.world_mut().send_event(Alarm(1)); // before tick 0: readable in tick 0
/// let mut engine = app.build()?;
/// engine.run_ticks(2)?;
/// engine.send_event(Alarm(2)); // between ticks: readable in tick 2
/// engine.run_ticks(1)?;
/// let heard = &engine.world().resource::<Heard>().0;
/// assert_eq!(heard, &[(0, 1), (1, 10), (2, 11), (2, 2)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait WorldEventsExt {
    /// Sends one event, readable during the next tick.
    fn send_event<T: Event>(&mut self, event: T);

    /// Sends every event of `events`, in order, readable during the next tick.
    fn send_events<T: Event>(&mut self, events: impl IntoIterator<Item = T>);
}

impl WorldEventsExt for World {
    fn send_event<T: Event>(&mut self, event: T) {
        with_queue::<T, _>(self, |queue| queue.push_pending(event));
    }

    fn send_events<T: Event>(&mut self, events: impl IntoIterator<Item = T>) {
        with_queue::<T, _>(self, |queue| queue.extend_pending(events));
    }
}

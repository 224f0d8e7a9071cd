//! Type-erased list of the registered queues, so the engine can swap and count them per tick.

use std::any::{TypeId, type_name};

use bevy_ecs::{change_detection::DetectChangesMut, resource::Resource, world::World};

use super::{EventQueue, QueueTickStats};
use crate::Event;

/// One registered queue: its type name and the per-tick operations on it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueueEntry {
    pub(crate) name: &'static str,
    pub(crate) swap: fn(&mut World),
    pub(crate) finish: fn(&mut World) -> QueueTickStats,
    /// Events held (readable and pending), for snapshots that cannot copy this queue.
    pub(crate) held: fn(&World) -> usize,
    /// The queue's resource type, so snapshots know which queues they carry.
    pub(crate) type_id: fn() -> std::any::TypeId,
    /// Drops every event (a restored snapshot that could not carry this queue).
    pub(crate) clear: fn(&mut World),
}

impl QueueEntry {
    fn of<T: Event>() -> Self {
        Self {
            name: type_name::<T>(),
            swap: swap_queue::<T>,
            finish: finish_queue::<T>,
            held: held_events::<T>,
            type_id: std::any::TypeId::of::<EventQueue<T>>,
            clear: clear_events::<T>,
        }
    }
}

fn swap_queue<T: Event>(world: &mut World) {
    if let Some(mut queue) = world.get_resource_mut::<EventQueue<T>>() {
        queue.bypass_change_detection().swap();
    }
}

fn finish_queue<T: Event>(world: &mut World) -> QueueTickStats {
    world
        .get_resource_mut::<EventQueue<T>>()
        .map(|mut queue| queue.bypass_change_detection().finish_tick())
        .unwrap_or_default()
}

fn clear_events<T: Event>(world: &mut World) {
    if let Some(mut queue) = world.get_resource_mut::<EventQueue<T>>() {
        queue.bypass_change_detection().clear_events();
    }
}

fn held_events<T: Event>(world: &World) -> usize {
    world
        .get_resource::<EventQueue<T>>()
        .map_or(0, |queue| queue.readable().len() + queue.pending().len())
}

/// The queues of a world, in registration order (`add_event` calls first, then the order in
/// which systems using a not yet registered type were added).
///
/// Which types are registered is kept here, apart from the queue resources themselves: a user
/// may remove a queue, or insert one of their own. (Not as a marker resource per type: every
/// resource is an entity in bevy 0.20, so markers would move the ids of the simulation's
/// entities and show in snapshots as resources of the game.)
#[derive(Resource, Default)]
pub(crate) struct QueueRegistry {
    pub(crate) entries: Vec<QueueEntry>,
}

impl QueueRegistry {
    /// Whether `T`'s queue has an entry (a scan: only registration asks, once per queue).
    fn is_registered<T: Event>(&self) -> bool {
        let queue = TypeId::of::<EventQueue<T>>();
        self.entries.iter().any(|entry| (entry.type_id)() == queue)
    }

    fn register<T: Event>(&mut self) {
        if !self.is_registered::<T>() {
            self.entries.push(QueueEntry::of::<T>());
        }
    }
}

/// Makes sure the queue of `T` exists and is registered, once.
///
/// The queue resource and its registration are checked apart:
/// * a queue the user inserted before anything registered its type is registered here (or it
///   would never be swapped, and its events never become readable);
/// * a queue the user removed is inserted again, empty, but not registered again (a second
///   entry would swap it twice a tick, and the second swap would drop every event).
///
/// A queue's record of its world (`registered_in`) assumes that world's registry is never
/// removed: after `World::clear_resources` (out of the engine's promises, see RELIABILITY.md)
/// a queue put back by hand would be taken as registered and never swapped.
pub(crate) fn ensure_queue<T: Event>(world: &mut World) {
    let world_id = world.id();
    let registered_here = world
        .get_resource::<EventQueue<T>>()
        .is_some_and(|queue| queue.is_registered_in(world_id));
    if !registered_here {
        register_queue::<T>(world);
    }
}

/// [`ensure_queue`]'s work when the queue is missing or not yet known to be registered.
fn register_queue<T: Event>(world: &mut World) {
    let world_id = world.id();
    if !world.contains_resource::<EventQueue<T>>() {
        world.init_resource::<EventQueue<T>>();
    }
    let registered = world
        .get_resource::<QueueRegistry>()
        .is_some_and(QueueRegistry::is_registered::<T>);
    if !registered {
        world
            .get_resource_or_init::<QueueRegistry>()
            .register::<T>();
    }
    world
        .resource_mut::<EventQueue<T>>()
        .bypass_change_detection()
        .mark_registered_in(world_id);
}

/// Runs `f` on the queue of `T`, for the engine's own writes (collection, merging): the
/// queue is made sure of first (see [`ensure_queue`]: one removed by the user comes back
/// empty, and the events written after that are delivered), and the resource is not marked
/// changed. The common case, a queue registered in this world, takes one resource lookup (it
/// runs at every merge of a writer's buffer, so small ticks feel a second one).
pub(crate) fn with_queue<T: Event, R>(
    world: &mut World,
    f: impl FnOnce(&mut EventQueue<T>) -> R,
) -> R {
    let world_id = world.id();
    match world.get_resource_mut::<EventQueue<T>>() {
        Some(mut queue) if queue.is_registered_in(world_id) => {
            return f(queue.bypass_change_detection());
        }
        _ => {}
    }
    register_queue::<T>(world);
    f(world
        .resource_mut::<EventQueue<T>>()
        .bypass_change_detection())
}

/// The registered queues of `world`, in registration order.
pub(crate) fn registered_queues(world: &World) -> Vec<QueueEntry> {
    world
        .get_resource::<QueueRegistry>()
        .map(|registry| registry.entries.clone())
        .unwrap_or_default()
}

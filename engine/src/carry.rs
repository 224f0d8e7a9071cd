//! State the engine's own plugins keep in the world from one tick to the next (pending timers,
//! physics contacts, the contents of their event queues), registered where it is created so
//! that a [snapshot](crate::replay::Snapshot) carries it without the game naming it.
//!
//! A game registers its own components, resources and events with the
//! [`StateHasher`](crate::replay::StateHasher); this list is the engine's half.

use std::any::{Any, TypeId};

use bevy_ecs::{
    entity::{Entity, EntityMapper},
    resource::Resource,
    world::World,
};

use crate::{Event, EventQueue, queue::registry::ensure_queue};

/// A type-erased copy of one carried value.
pub(crate) type Stored = Box<dyn Any + Send + Sync>;

/// Rewrites the [`Entity`] values held by restored state. A restored world keeps every
/// entity's index; only generations may differ from the captured world (by a fixed amount
/// per index), so the map is one generation shift per index.
#[derive(Clone, Debug, Default)]
pub(crate) struct EntityRemap {
    shifts: Vec<u32>,
}

impl EntityRemap {
    /// A remap that shifts the generation of index `i` by `shifts[i]` (wrapping).
    pub(crate) fn from_shifts(shifts: Vec<u32>) -> Self {
        Self { shifts }
    }

    /// The entity `entity` of the captured world is in the restored world.
    pub(crate) fn map(&self, entity: Entity) -> Entity {
        let index = entity.index_u32() as usize;
        match self.shifts.get(index) {
            Some(&shift) if shift != 0 && entity != Entity::PLACEHOLDER => {
                let generation = entity.generation().after_versions(shift);
                Entity::from_index_and_generation(entity.index(), generation)
            }
            _ => entity,
        }
    }
}

impl EntityMapper for EntityRemap {
    fn get_mapped(&mut self, source: Entity) -> Entity {
        self.map(source)
    }

    fn set_mapped(&mut self, _source: Entity, _target: Entity) {}
}

/// How one carried resource is copied out of a world and put back.
#[derive(Clone, Copy)]
pub(crate) struct Carrier {
    /// The name in snapshot reports.
    pub(crate) name: &'static str,
    /// The resource's type, so a game registering the same type is not carried twice.
    pub(crate) type_id: TypeId,
    /// A copy of the resource, `None` when it is missing.
    pub(crate) capture: fn(&World) -> Option<Stored>,
    /// Puts a copy back (or removes the resource when it was missing), remapping entities.
    pub(crate) restore: fn(&mut World, Option<&Stored>, &mut EntityRemap),
}

impl std::fmt::Debug for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Carrier").field(&self.name).finish()
    }
}

/// Rewrites the entities inside one value of `T` (engine types that hold entities).
pub(crate) trait CarriedEntities {
    /// Maps every [`Entity`] in `self` through `remap`.
    fn remap_entities(&mut self, remap: &mut EntityRemap);
}

impl Carrier {
    /// Carries the resource `R` by `Clone`.
    pub(crate) fn resource<R: Resource + Clone + CarriedEntities>(name: &'static str) -> Self {
        Self {
            name,
            type_id: TypeId::of::<R>(),
            capture: |world| {
                let value = world.get_resource::<R>()?.clone();
                Some(Box::new(value) as Stored)
            },
            restore: |world, stored, remap| match stored.and_then(|s| s.downcast_ref::<R>()) {
                Some(value) => {
                    let mut value = value.clone();
                    value.remap_entities(remap);
                    world.insert_resource(value);
                }
                None => {
                    world.remove_resource::<R>();
                }
            },
        }
    }

    /// Carries the event queue of `T` (readable and pending events) by `Clone`.
    pub(crate) fn queue<T: Event + Clone + CarriedEntities>(name: &'static str) -> Self {
        Self {
            name,
            type_id: TypeId::of::<EventQueue<T>>(),
            capture: |world| {
                let queue = world.get_resource::<EventQueue<T>>()?;
                Some(Box::new(queue.clone_contents()) as Stored)
            },
            restore: |world, stored, remap| {
                ensure_queue::<T>(world);
                let contents = stored.and_then(|s| s.downcast_ref::<(Vec<T>, Vec<T>)>());
                let (mut readable, mut pending) = contents.cloned().unwrap_or_default();
                readable
                    .iter_mut()
                    .chain(pending.iter_mut())
                    .for_each(|event| event.remap_entities(remap));
                world
                    .resource_mut::<EventQueue<T>>()
                    .restore_contents(readable, pending);
            },
        }
    }
}

/// The carriers the engine's plugins registered in a world.
#[derive(Resource, Default, Debug)]
pub(crate) struct CarriedState {
    pub(crate) carriers: Vec<Carrier>,
}

/// Registers `carrier` in `world` once (by type).
pub(crate) fn carry(world: &mut World, carrier: Carrier) {
    let mut state = world.get_resource_or_init::<CarriedState>();
    if state.carriers.iter().all(|c| c.type_id != carrier.type_id) {
        state.carriers.push(carrier);
    }
}

/// Types without entities inside.
macro_rules! no_entities {
    ($($ty:ty),* $(,)?) => {$(
        impl crate::carry::CarriedEntities for $ty {
            fn remap_entities(&mut self, _remap: &mut crate::carry::EntityRemap) {}
        }
    )*};
}
pub(crate) use no_entities;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remap_shifts_generations_per_index_and_keeps_indices() {
        let remap = EntityRemap::from_shifts(vec![0, 3]);
        let zero = Entity::from_raw_u32(0).unwrap();
        let one = Entity::from_raw_u32(1).unwrap();
        let far = Entity::from_raw_u32(9).unwrap();
        assert_eq!(remap.map(zero), zero);
        assert_eq!(remap.map(one).index(), one.index());
        assert_eq!(remap.map(one).generation().to_bits(), 3);
        assert_eq!(remap.map(far), far, "indices beyond the map stay");
    }
}

//! The extract step: what is copied from the simulation world into bevy's main world.

use std::{
    collections::{HashMap, HashSet},
    marker::PhantomData,
};

use bevy_app::App;
use bevy_ecs::{
    component::Component, entity::Entity, query::QueryState, resource::Resource, world::World,
};
use tickbus::{Event, EventQueue};

use crate::{Previous, SimEntity, SimEvent};

/// One kind of thing copied into bevy's world. Called, per frame: `before_last_tick` before
/// the last tick of a frame that ticks, `after_tick` after every tick, `after_frame` once the
/// frame's ticks ran (when at least one did).
pub(crate) trait Extract: Send + Sync + 'static {
    /// Registers what bevy needs (messages).
    fn register(&self, _app: &mut App) {}

    fn before_last_tick(&mut self, _sim: &mut World) {}

    fn after_tick(&mut self, _sim: &World, _main: &mut World, _tick: u64) {}

    fn after_frame(&mut self, _sim: &mut World, _main: &mut World, _entities: &mut EntityMap) {}
}

/// Simulation entity → its mirror in bevy's world.
#[derive(Default)]
pub(crate) struct EntityMap {
    mirrors: HashMap<Entity, Entity>,
}

impl EntityMap {
    pub(crate) fn len(&self) -> usize {
        self.mirrors.len()
    }

    pub(crate) fn get(&self, sim: Entity) -> Option<Entity> {
        self.mirrors.get(&sim).copied()
    }

    /// The mirror of `sim`, spawned (or spawned again, if bevy code despawned it) as needed.
    fn mirror(&mut self, sim: Entity, main: &mut World) -> Entity {
        match self.mirrors.get(&sim) {
            Some(&mirror) if main.get_entity(mirror).is_ok() => mirror,
            _ => {
                let mirror = main.spawn(SimEntity(sim)).id();
                self.mirrors.insert(sim, mirror);
                mirror
            }
        }
    }

    /// Despawns the mirrors of simulation entities that no longer exist.
    pub(crate) fn despawn_gone(&mut self, sim: &World, main: &mut World) {
        self.mirrors.retain(|&sim_entity, &mut mirror| {
            let alive = sim.get_entity(sim_entity).is_ok();
            if !alive && let Ok(entity) = main.get_entity_mut(mirror) {
                entity.despawn();
            }
            alive
        });
    }
}

/// Copies `C` (and optionally [`Previous<C>`]) onto mirrors.
pub(crate) struct ComponentExtract<C: Component + Clone> {
    query: Option<QueryState<(Entity, &'static C)>>,
    interpolated: bool,
    /// `C` before the last tick of the latest frame that ticked.
    previous: HashMap<Entity, C>,
    /// Simulation entities that had `C` at the last extraction.
    had: Vec<Entity>,
}

impl<C: Component + Clone> ComponentExtract<C> {
    pub(crate) fn new(interpolated: bool) -> Self {
        Self {
            query: None,
            interpolated,
            previous: HashMap::new(),
            had: Vec::new(),
        }
    }

    fn current(&mut self, sim: &mut World) -> Vec<(Entity, C)> {
        let query = self.query.get_or_insert_with(|| sim.query());
        query.iter(sim).map(|(e, c)| (e, c.clone())).collect()
    }
}

impl<C: Component + Clone> Extract for ComponentExtract<C> {
    fn before_last_tick(&mut self, sim: &mut World) {
        if self.interpolated {
            self.previous = self.current(sim).into_iter().collect();
        }
    }

    fn after_frame(&mut self, sim: &mut World, main: &mut World, entities: &mut EntityMap) {
        let current = self.current(sim);
        let present: HashSet<Entity> = current.iter().map(|(entity, _)| *entity).collect();
        for sim_entity in std::mem::take(&mut self.had) {
            if let (false, Some(mirror)) = (present.contains(&sim_entity), entities.get(sim_entity))
                && let Ok(mut entity) = main.get_entity_mut(mirror)
            {
                entity.remove::<(C, Previous<C>)>();
            }
        }
        for (sim_entity, value) in current {
            let mirror = entities.mirror(sim_entity, main);
            let mut entity = main.entity_mut(mirror);
            if self.interpolated {
                let previous = self.previous.get(&sim_entity).unwrap_or(&value).clone();
                entity.insert(Previous(previous));
            }
            entity.insert(value);
            self.had.push(sim_entity);
        }
    }
}

/// Copies a resource.
pub(crate) struct ResourceExtract<R>(PhantomData<fn() -> R>);

impl<R> Default for ResourceExtract<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<R: Resource + Clone> Extract for ResourceExtract<R> {
    fn after_frame(&mut self, sim: &mut World, main: &mut World, _entities: &mut EntityMap) {
        match sim.get_resource::<R>() {
            Some(value) => main.insert_resource(value.clone()),
            None => {
                main.remove_resource::<R>();
            }
        }
    }
}

/// Writes the events readable during each tick as bevy messages.
pub(crate) struct EventExtract<T>(PhantomData<fn() -> T>);

impl<T> Default for EventExtract<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T: Event + Clone> Extract for EventExtract<T> {
    fn register(&self, app: &mut App) {
        app.add_message::<SimEvent<T>>();
    }

    fn after_tick(&mut self, sim: &World, main: &mut World, tick: u64) {
        let Some(queue) = sim.get_resource::<EventQueue<T>>() else {
            return;
        };
        let events = queue.readable().iter().map(|event| SimEvent {
            tick,
            event: event.clone(),
        });
        main.write_message_batch(events);
    }
}

//! Snapshots: the whole simulation state of an engine between two ticks, copied out and put
//! back, so that running on from a restored snapshot is running on from the captured tick.

use std::{
    any::TypeId,
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
};

use bevy_ecs::{
    component::{ComponentId, IS_RESOURCE},
    entity::Entity,
    observer::Observer,
    world::World,
};

use super::{
    PartKind, PartValue, StateHasher,
    allocator::{self, AllocatorState, Vacancy},
    state::CapturedPart,
};
use crate::{
    Engine,
    carry::{CarriedState, Carrier, EntityRemap, Stored},
    physics::entity_order,
    queue::registry::registered_queues,
};

/// A restore that failed: why, and whether it had changed the engine already.
pub(crate) struct FailedRestore {
    pub(crate) error: SnapshotError,
    pub(crate) changed: bool,
}

/// Why a snapshot could not be taken or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// bevy's entity allocator did not behave as this build of tickbus expects (another
    /// bevy_ecs version, or ids allocated and never spawned): entity ids could not be
    /// captured or restored exactly.
    #[error("cannot read the entity allocator: {reason}")]
    AllocatorUnreadable {
        /// What was unexpected.
        reason: &'static str,
    },
    /// The snapshot comes from a world that never despawned anything, and the world it is
    /// restored into has: their allocators cannot be made equal. Worlds built with
    /// [`build_game`](super::build_game) never hit this.
    #[error(
        "the snapshot's world never freed an entity id and this one has (build both with build_game)"
    )]
    AllocatorUnprimed,
    /// An entity of the snapshot could not be spawned at its index: something else (a
    /// resource inserted after the game was built) took it.
    #[error("entity index {index} of the snapshot is taken in this world")]
    EntityTaken {
        /// The index.
        index: u32,
    },
    /// No snapshot was kept at or before the tick asked for.
    #[error("no snapshot at or before tick {tick}")]
    NoneBefore {
        /// The tick asked for.
        tick: u64,
    },
}

/// State a snapshot found in the world but could not copy (nothing registered for it).
///
/// It is not restored: when it matters for later ticks, a restored run goes another way than
/// the captured one, which [`verify_restore`](super::verify_restore) detects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uncaptured {
    /// Component types present on entities but not registered (they are dropped on restore).
    pub components: Vec<String>,
    /// Resources neither registered nor owned by the engine (kept as they are on restore).
    pub resources: Vec<String>,
    /// Event types with events in flight but not registered (emptied on restore), with how
    /// many events they held.
    pub events: Vec<(String, usize)>,
}

impl Uncaptured {
    /// True when the snapshot holds everything it found.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty() && self.resources.is_empty() && self.events.is_empty()
    }
}

/// One registered type as captured.
struct CapturedEntry {
    name: String,
    kind: PartKind,
    values: Box<dyn CapturedPart>,
}

/// The simulation state of an engine after some number of ticks: every entity (with its id),
/// every registered component, resource and event, the state the engine's own plugins keep
/// (pending timers, physics contacts, their events), the tick, and the entity allocator.
///
/// Restoring it into an engine of the same game (the same one, or another built the same
/// way with [`build_game`](super::build_game)) makes the next ticks those that followed the
/// captured tick: same entity indices now and for every entity spawned later, same values,
/// same events. Randomness needs no copy ([`SimRng`](super::SimRng) is derived from the seed,
/// the system and the tick).
///
/// What a snapshot cannot hold: a system's `Local` state, components and resources that are
/// not registered ([`Uncaptured`] lists what it found), and change detection (after a
/// restore, `Added`/`Changed` see every restored value as new). Games keep simulation state
/// in registered components and resources; [`verify_restore`](super::verify_restore) checks
/// that they do.
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::replay::{Game, RunSetup, Snapshot, StateHasher, build_game, state_hasher};
///
/// struct Walkers;
///
/// #[derive(Component, Clone, Debug)]
/// struct Step(u32);
/// tickbus::impl_stable_hash!(Step { 0 });
///
/// fn walk(mut steps: Query<&mut Step>, mut commands: Commands, time: Res<SimTime>) {
///     steps.iter_mut().for_each(|mut step| step.0 += 1);
///     if time.tick() % 3 == 0 {
///         commands.spawn(Step(0));
///     }
/// }
///
/// impl Game for Walkers {
///     const NAME: &'static str = "walkers";
///     type Config = ();
///     type Input = u8;
///     fn build(_: &(), app: &mut App) {
///         app.add_systems(walk);
///     }
///     fn register_state(state: &mut StateHasher) {
///         state.component::<Step>();
///     }
/// }
///
/// let setup = RunSetup { seed: 1, tick_rate: 60, executor: ExecutorKind::Sequential };
/// let (mut engine, _input) = build_game::<Walkers>(&(), setup)?;
/// let state = state_hasher::<Walkers>();
/// engine.run_ticks(10)?;
/// let snapshot = Snapshot::capture(&mut engine, &state)?;
/// engine.run_ticks(20)?;
/// let straight = state.hash(engine.world());
///
/// snapshot.restore(&mut engine, &state)?;
/// assert_eq!(engine.tick_count(), 10);
/// engine.run_ticks(20)?;
/// assert_eq!(state.hash(engine.world()), straight);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Snapshot {
    tick: u64,
    /// Whether the startup systems had run in the captured world: restoring a snapshot
    /// taken before them (tick 0 of a fresh engine) runs them again before the next tick.
    started: bool,
    entities: Vec<Entity>,
    allocator: AllocatorState,
    parts: Vec<CapturedEntry>,
    carried: Vec<(Carrier, Option<Stored>)>,
    uncaptured: Uncaptured,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("tick", &self.tick)
            .field("entities", &self.entities.len())
            .field("parts", &self.parts.len())
            .field("carried", &self.carried.len())
            .field("uncaptured", &self.uncaptured)
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// Captures the state of `engine` between two ticks, with `state` saying which of the
    /// game's types to copy (what [`state_hasher`](super::state_hasher) returns for a game).
    ///
    /// It needs the engine mutably only to read the entity allocator, which it leaves as it
    /// was.
    pub fn capture(engine: &mut Engine, state: &StateHasher) -> Result<Self, SnapshotError> {
        let tick = engine.tick_count();
        let started = engine.has_started();
        let world = engine.world_mut();
        let allocator = allocator::read(world)?;
        let world = &*world;
        let entities = simulation_entities(world);
        let parts = state
            .parts()
            .iter()
            .map(|part| CapturedEntry {
                name: part.name().to_owned(),
                kind: part.kind(),
                values: part.capture(world),
            })
            .collect();
        let carried = engine_carriers(world, state)
            .into_iter()
            .map(|carrier| (carrier, (carrier.capture)(world)))
            .collect();
        Ok(Self {
            tick,
            started,
            entities,
            allocator,
            parts,
            carried,
            uncaptured: uncaptured(world, state),
        })
    }

    /// Puts the captured state into `engine` (the one it was captured from or another of the
    /// same game), which then continues at [`tick`](Self::tick).
    ///
    /// Every entity of the engine is replaced by the captured ones (each at its captured
    /// index); registered resources and the engine's own state are overwritten, event queues
    /// hold what they held. Entities stored in components, resources and events are remapped
    /// to the generation their index has in this world (see [`StateHasher::component`]).
    /// The startup systems run before the next tick exactly when the snapshot was taken
    /// before they ran (a fresh engine at tick 0), as they would have in the captured run.
    ///
    /// What can be checked first is checked before anything changes; an error after that
    /// (an entity index taken by a resource the restore itself inserted, an allocator that
    /// does not read back) leaves the engine part restored: rebuild it.
    pub fn restore(&self, engine: &mut Engine, state: &StateHasher) -> Result<(), SnapshotError> {
        self.restore_telling(engine, state)
            .map_err(|failed| failed.error)
    }

    /// [`restore`](Self::restore), saying on failure whether the engine was changed.
    pub(crate) fn restore_telling(
        &self,
        engine: &mut Engine,
        state: &StateHasher,
    ) -> Result<(), FailedRestore> {
        let unchanged = |error| FailedRestore {
            error,
            changed: false,
        };
        self.check_restorable(engine.world()).map_err(unchanged)?;
        self.apply(engine, state).map_err(|error| FailedRestore {
            error,
            changed: true,
        })
    }

    /// The restore proper, after [`check_restorable`](Self::check_restorable).
    fn apply(&self, engine: &mut Engine, state: &StateHasher) -> Result<(), SnapshotError> {
        let world = engine.world_mut();
        for entity in simulation_entities(world)
            .into_iter()
            .chain(vacancies(world))
        {
            world.despawn(entity);
        }
        // Everything that may spawn or despawn a resource happens before the allocator is
        // rebuilt; afterwards values are only overwritten.
        let mut unmapped = EntityRemap::default();
        self.restore_world_state(world, state, &mut unmapped);
        let (mut remap, taken) = allocator::restore(world, &self.allocator)?;
        for &entity in &self.entities {
            let target = remap.map(entity);
            if world.spawn_empty_at(target).is_err() {
                let index = entity.index_u32();
                return Err(SnapshotError::EntityTaken { index });
            }
        }
        for id in taken {
            // Spawned only where no captured entity went.
            let _ = world.spawn_at(id, Vacancy);
        }
        self.restore_world_state(world, state, &mut remap);
        for entry in &self.parts {
            if entry.kind == PartKind::Component {
                entry.values.restore(world, &mut remap);
            }
        }
        world.clear_trackers();
        engine.resume_at_tick(self.tick, self.started);
        Ok(())
    }

    /// What a restore can check before it changes anything: the allocator reads as
    /// expected, and no captured entity's index is held by an entity the restore leaves
    /// alone (a resource or observer of this world).
    fn check_restorable(&self, world: &World) -> Result<(), SnapshotError> {
        allocator::check_readable(world)?;
        let kept = kept_indices(world);
        match self.entities.iter().find(|e| kept.contains(&e.index_u32())) {
            Some(entity) => Err(SnapshotError::EntityTaken {
                index: entity.index_u32(),
            }),
            None => Ok(()),
        }
    }

    /// Resources, queues and the engine's carried state; components come separately.
    fn restore_world_state(&self, world: &mut World, state: &StateHasher, remap: &mut EntityRemap) {
        for queue in registered_queues(world) {
            let carried = self
                .carried
                .iter()
                .any(|(c, _)| c.type_id == (queue.type_id)());
            if !state.holds((queue.type_id)()) && !carried {
                (queue.clear)(world);
            }
        }
        for (carrier, stored) in &self.carried {
            (carrier.restore)(world, stored.as_ref(), remap);
        }
        for entry in &self.parts {
            if entry.kind != PartKind::Component {
                entry.values.restore(world, remap);
            }
        }
    }

    /// The number of ticks run before the snapshot was taken (the tick that runs next).
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The entities captured, by index.
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// What the snapshot found but could not copy.
    pub fn uncaptured(&self) -> &Uncaptured {
        &self.uncaptured
    }

    /// The registered types captured, in registration order, with their kinds.
    pub fn parts(&self) -> impl Iterator<Item = (&str, PartKind)> {
        self.parts
            .iter()
            .map(|entry| (entry.name.as_str(), entry.kind))
    }

    /// The captured values of the registered type `name` (empty when there is none).
    pub fn values(&self, name: &str) -> Vec<PartValue> {
        self.parts
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| entry.values.values())
            .unwrap_or_default()
    }

    /// Heap bytes held, about (what a memory budget counts).
    pub fn heap_bytes(&self) -> usize {
        let parts: usize = self.parts.iter().map(|e| e.values.heap_bytes()).sum();
        parts + self.allocator.heap_bytes() + self.entities.len() * size_of::<Entity>() + 256
    }

    /// Every value that differs between `self` (expected) and `other` (found), by type, in
    /// registration order, then entity index or position.
    pub fn diff(&self, other: &Snapshot) -> Vec<ValueDiff> {
        let mut diffs = Vec::new();
        for entry in &self.parts {
            let found = other.values(&entry.name);
            diffs.extend(diff_values(
                &entry.name,
                entry.kind,
                &entry.values.values(),
                &found,
                By::Index,
            ));
        }
        diffs
    }

    /// The world as RON: the tick, every entity with its registered components, and every
    /// registered resource and event. Values are written as their `Debug` text.
    pub fn to_ron(&self) -> String {
        let mut by_entity: BTreeMap<(u32, u32), Vec<(String, String)>> = BTreeMap::new();
        for &entity in &self.entities {
            by_entity.entry(entity_order(entity)).or_default();
        }
        let mut others: Vec<(PartKind, String, Vec<PartValue>)> = Vec::new();
        for entry in &self.parts {
            let values = entry.values.values();
            if entry.kind != PartKind::Component {
                others.push((entry.kind, entry.name.clone(), values));
                continue;
            }
            for value in values {
                let Some(entity) = value.entity else { continue };
                let components = by_entity.entry(entity_order(entity)).or_default();
                components.push((entry.name.clone(), value.debug));
            }
        }
        let mut text = format!("(\n  tick: {},\n  entities: [\n", self.tick);
        for ((index, generation), components) in by_entity {
            let _ = writeln!(
                text,
                "    (id: {index}, generation: {generation}, components: {{"
            );
            for (name, debug) in components {
                let _ = writeln!(text, "      {}: {},", ron_string(&name), ron_string(&debug));
            }
            text.push_str("    }),\n");
        }
        text.push_str("  ],\n");
        for kind in [PartKind::Resource, PartKind::Event] {
            let _ = writeln!(text, "  {}s: {{", kind.as_str());
            for (_, name, values) in others.iter().filter(|(k, ..)| *k == kind) {
                let debug: Vec<String> = values.iter().map(|v| ron_string(&v.debug)).collect();
                let _ = writeln!(text, "    {}: [{}],", ron_string(name), debug.join(", "));
            }
            text.push_str("  },\n");
        }
        text.push_str(")\n");
        text
    }
}

/// A RON string literal.
fn ron_string(text: &str) -> String {
    ron::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

/// One value that differs between an expected and a found snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueDiff {
    /// The registered type's name.
    pub part: String,
    /// Its kind.
    pub kind: PartKind,
    /// The entity (components), by its stable identity: the index.
    pub entity: Option<Entity>,
    /// The expected value (`Debug`), `None` when only the found side has one.
    pub expected: Option<String>,
    /// The found value (`Debug`), `None` when only the expected side has one.
    pub found: Option<String>,
}

impl std::fmt::Display for ValueDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let absent = "(none)".to_owned();
        match self.entity {
            Some(entity) => write!(f, "{} of entity {}", self.part, entity.index_u32())?,
            None => write!(f, "{} {}", self.kind.as_str(), self.part)?,
        }
        write!(
            f,
            ": expected {}, found {}",
            self.expected.as_ref().unwrap_or(&absent),
            self.found.as_ref().unwrap_or(&absent)
        )
    }
}

/// The differing values of one type: components matched by entity index, others by position.
fn diff_values(
    part: &str,
    kind: PartKind,
    expected: &[PartValue],
    found: &[PartValue],
    by: By,
) -> Vec<ValueDiff> {
    let key = |value: &PartValue| match (value.entity, by) {
        (Some(entity), By::Index) => (entity.index_u32() as usize, 0),
        _ => (usize::MAX, value.position),
    };
    let expected: BTreeMap<_, &PartValue> = expected.iter().map(|v| (key(v), v)).collect();
    let found: BTreeMap<_, &PartValue> = found.iter().map(|v| (key(v), v)).collect();
    let keys: BTreeSet<_> = expected.keys().chain(found.keys()).copied().collect();
    keys.into_iter()
        .filter_map(|k| {
            let (e, f) = (expected.get(&k), found.get(&k));
            if e.map(|v| v.hash) == f.map(|v| v.hash) {
                return None;
            }
            Some(ValueDiff {
                part: part.to_owned(),
                kind,
                entity: f.or(e).and_then(|v| v.entity),
                expected: e.map(|v| v.debug.clone()),
                found: f.map(|v| v.debug.clone()),
            })
        })
        .collect()
}

/// The differences between values recorded at a checkpoint and the values `now` of the same
/// type in `snapshot`, matched by entity index (components) or position.
pub(crate) fn diff_recorded(
    part: &str,
    expected: &[crate::replay::RecordedValue],
    now: &[crate::replay::RecordedValue],
    snapshot: &Snapshot,
) -> Vec<ValueDiff> {
    let kind = snapshot
        .parts()
        .find(|(name, _)| *name == part)
        .map_or(PartKind::Component, |(_, kind)| kind);
    let as_values = |values: &[crate::replay::RecordedValue]| -> Vec<PartValue> {
        values
            .iter()
            .enumerate()
            .map(|(position, value)| PartValue {
                entity: value
                    .entity
                    .and_then(|index| entity_with_index(snapshot, index)),
                position,
                hash: super::stable_hash_of(value.value.as_str()),
                debug: value.value.clone(),
            })
            .collect()
    };
    // Matched by position, as the hash compares them: an app with another composition (one
    // more resource) numbers the same entities differently.
    diff_values(
        part,
        kind,
        &as_values(expected),
        &as_values(now),
        By::Position,
    )
}

/// How two lists of values are matched.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    /// Components by entity index (two snapshots of one lineage).
    Index,
    /// By position in entity order (a recording and a replay).
    Position,
}

/// The entity of `snapshot` at `index`, or that index at its first generation.
fn entity_with_index(snapshot: &Snapshot, index: u32) -> Option<Entity> {
    let found = snapshot.entities.iter().find(|e| e.index_u32() == index);
    found.copied().or_else(|| Entity::from_raw_u32(index))
}

/// True for the archetypes of entities a snapshot leaves alone: resources, observers and
/// [`Vacancy`] placeholders.
fn outside_the_simulation(world: &World, archetype: &bevy_ecs::archetype::Archetype) -> bool {
    let components = world.components();
    let marked = |id: Option<ComponentId>| id.is_some_and(|id| archetype.contains(id));
    archetype.contains(IS_RESOURCE)
        || marked(components.component_id::<Observer>())
        || marked(components.component_id::<Vacancy>())
}

/// The indices of the entities a restore keeps: resources and observers (not vacancies).
fn kept_indices(world: &World) -> std::collections::BTreeSet<u32> {
    let vacancy = world.components().component_id::<Vacancy>();
    world
        .archetypes()
        .iter()
        .filter(|archetype| outside_the_simulation(world, archetype))
        .filter(|archetype| !vacancy.is_some_and(|id| archetype.contains(id)))
        .flat_map(|archetype| archetype.entities().iter().map(|e| e.id().index_u32()))
        .collect()
}

/// The [`Vacancy`] placeholders of an earlier restore.
fn vacancies(world: &World) -> Vec<Entity> {
    let Some(vacancy) = world.components().component_id::<Vacancy>() else {
        return Vec::new();
    };
    world
        .archetypes()
        .iter()
        .filter(|archetype| archetype.contains(vacancy))
        .flat_map(|archetype| archetype.entities().iter().map(|e| e.id()))
        .collect()
}

/// The entities a snapshot replaces: every entity but resources, observers and vacancies,
/// by index.
fn simulation_entities(world: &World) -> Vec<Entity> {
    let mut entities: Vec<Entity> = world
        .archetypes()
        .iter()
        .filter(|archetype| !outside_the_simulation(world, archetype))
        .flat_map(|archetype| archetype.entities().iter().map(|e| e.id()))
        .collect();
    entities.sort_unstable_by_key(|&entity| entity_order(entity));
    entities
}

/// The engine's carriers, less the types the game registered itself.
fn engine_carriers(world: &World, state: &StateHasher) -> Vec<Carrier> {
    world
        .get_resource::<CarriedState>()
        .map(|carried| {
            let own = carried.carriers.iter().copied();
            own.filter(|c| !state.holds(c.type_id)).collect()
        })
        .unwrap_or_default()
}

/// Resources the engine owns and rebuilds itself (not simulation state).
const ENGINE_RESOURCES: &[&str] = &[
    "SimTime",
    "SimSeed",
    "ComputePool",
    "QueueRegistry",
    "CarriedState",
    "TimerSlots",
    "DefaultQueryFilters",
    "BroadphasePairs",
];

/// What `world` holds that neither `state` nor the engine's carriers copy.
fn uncaptured(world: &World, state: &StateHasher) -> Uncaptured {
    let registered: BTreeSet<ComponentId> = state
        .parts()
        .iter()
        .filter_map(|part| part.component_id(world))
        .collect();
    let carried: BTreeSet<TypeId> = world
        .get_resource::<CarriedState>()
        .map(|c| c.carriers.iter().map(|c| c.type_id).collect())
        .unwrap_or_default();
    let name_of = |id: ComponentId| {
        let name = world.components().get_name(id).map(|n| n.to_string());
        super::state::short_type_name(&name.unwrap_or_default())
    };
    let type_of = |id: ComponentId| world.components().get_info(id).and_then(|i| i.type_id());
    let mut components = BTreeSet::new();
    let mut resources = BTreeSet::new();
    for archetype in world.archetypes().iter().filter(|a| !a.is_empty()) {
        let is_resource = archetype.contains(IS_RESOURCE);
        if !is_resource && outside_the_simulation(world, archetype) {
            continue;
        }
        for &id in archetype.components() {
            if id == IS_RESOURCE || registered.contains(&id) {
                continue;
            }
            let known = type_of(id).is_some_and(|t| state.holds(t) || carried.contains(&t));
            let name = name_of(id);
            if is_resource && !known && !is_engine_resource(&name) {
                resources.insert(name);
            } else if !is_resource && !known {
                components.insert(name);
            }
        }
    }
    let events = registered_queues(world)
        .into_iter()
        .filter(|q| !state.holds((q.type_id)()) && !carried.contains(&(q.type_id)()))
        .map(|q| (super::state::short_type_name(q.name), (q.held)(world)))
        .filter(|(_, held)| *held > 0)
        .collect();
    Uncaptured {
        components: components.into_iter().collect(),
        resources: resources.into_iter().collect(),
        events,
    }
}

fn is_engine_resource(name: &str) -> bool {
    // Event folds hold their closures and, between ticks, at most partials folded at write
    // time, which a restore makes unusable (the queue forgets which merge made its events):
    // the read path folds those chunks again. Nothing to capture.
    ENGINE_RESOURCES.contains(&name)
        || name.starts_with("EventQueue<")
        || name.starts_with("EventFolds<")
}

//! What the simulation state of a game is: the components, resources and events it
//! registers, once, for both state hashing and snapshots.

use std::{
    any::{TypeId, type_name},
    collections::BTreeMap,
    fmt::Debug,
    sync::Arc,
};

use bevy_ecs::{
    component::{Component, ComponentId},
    entity::{Entity, MapEntities},
    resource::Resource,
    world::World,
};

use super::{EntityScheme, StableHash, StableHasher, stable_hash_of};
use crate::{Event, EventQueue, carry::EntityRemap, physics::entity_order, queue::registry};

/// The hash of a world's registered state: the combined hash and one sub-hash per registered
/// type, by name (sorted, so the order never depends on registration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateHash {
    /// The hash of all sub-hashes (names included), in name order.
    pub total: u64,
    /// One hash per registered component or resource type.
    pub parts: BTreeMap<String, u64>,
}

impl StateHash {
    /// Names whose sub-hash differs between `self` and `other`, or that only one of them has.
    pub fn differing_parts(&self, other: &BTreeMap<String, u64>) -> Vec<String> {
        let mut names: Vec<String> = self
            .parts
            .iter()
            .filter(|(name, hash)| other.get(*name) != Some(*hash))
            .map(|(name, _)| name.clone())
            .collect();
        names.extend(
            other
                .keys()
                .filter(|name| !self.parts.contains_key(*name))
                .cloned(),
        );
        names.sort();
        names
    }
}

/// What kind of state a registered type is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PartKind {
    /// A component: one value per entity that has it.
    Component,
    /// A resource.
    Resource,
    /// An event type: the events in flight (carried by snapshots, not hashed).
    Event,
}

impl PartKind {
    /// `component`, `resource` or `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Component => "component",
            PartKind::Resource => "resource",
            PartKind::Event => "event",
        }
    }
}

/// One value of a captured type, for reports and dumps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartValue {
    /// The entity holding it (components), `None` for resources and events.
    pub entity: Option<Entity>,
    /// Its position among the values (events: delivery order; components: entity order).
    pub position: usize,
    /// Its stable hash when the type is hashed (else the hash of its `Debug` text).
    pub hash: u64,
    /// Its `Debug` text.
    pub debug: String,
}

/// One registered type: how to hash it and how to copy it out of a world.
pub(crate) trait RegisteredPart: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> PartKind;
    /// The stored type: the component, the resource or `EventQueue<T>`.
    fn type_id(&self) -> TypeId;
    /// The component id of a component type, if `world` knows the type.
    fn component_id(&self, world: &World) -> Option<ComponentId>;
    /// The sub-hash, `None` for types that are carried but not hashed (events), with entity
    /// ids hashed and ordered as `entities` says.
    fn hash(&self, world: &World, entities: EntityScheme) -> Option<u64>;
    /// True when [`hash`](Self::hash) gives a sub-hash.
    fn hashed(&self) -> bool;
    fn capture(&self, world: &World) -> Box<dyn CapturedPart>;
}

/// The captured values of one registered type.
pub(crate) trait CapturedPart: Send + Sync {
    /// Puts the values back: components onto their (already spawned) entities, resources and
    /// queues in place. Entities inside values go through `remap`.
    fn restore(&self, world: &mut World, remap: &mut EntityRemap);
    /// The values, for reports.
    fn values(&self) -> Vec<PartValue>;
    /// Bytes held on the heap, about (for snapshot budgets).
    fn heap_bytes(&self) -> usize;
}

type HashFn<T> = Arc<dyn Fn(&T, &mut StableHasher) + Send + Sync>;

/// Which components, resources and events make up the simulation state. Registered once,
/// it serves both the state hash (components and resources) and
/// [snapshots](super::Snapshot) (all three, copied by `Clone`).
///
/// Each type is named at registration: by default its short type name (`Position`), or a
/// name of your choice (`component_named`), which keeps recordings valid when a type is
/// renamed or moved, and does not depend on the compiler's `type_name`.
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::replay::StateHasher;
///
/// #[derive(Component, Clone, Debug)]
/// struct Position(f32, f32);
/// tickbus::impl_stable_hash!(Position { 0, 1 });
///
/// let mut world = World::new();
/// world.spawn(Position(1.0, 2.0));
/// let mut hasher = StateHasher::new();
/// hasher.component::<Position>();
/// let before = hasher.hash(&world);
/// world.spawn(Position(3.0, 4.0));
/// assert_ne!(hasher.hash(&world).parts["Position"], before.parts["Position"]);
/// ```
#[derive(Default)]
pub struct StateHasher {
    parts: Vec<Box<dyn RegisteredPart>>,
    /// How entity ids are hashed and ordered: the scheme of the scenario being replayed.
    entities: EntityScheme,
}

impl std::fmt::Debug for StateHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl StateHasher {
    /// A hasher with nothing registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the component `T`, named by its short type name: hashed in entity order (the
    /// values, not the ids), copied by snapshots. Entities inside it are remapped on restore
    /// through its `Component::map_entities` (`#[entities]` fields).
    pub fn component<T: Component + StableHash + Clone + Debug>(&mut self) -> &mut Self {
        let name = self.unique_name::<T>();
        self.component_named::<T>(&name)
    }

    /// Like [`component`](Self::component), under the name `name`.
    pub fn component_named<T: Component + StableHash + Clone + Debug>(
        &mut self,
        name: &str,
    ) -> &mut Self {
        let hash: HashFn<T> =
            Arc::new(|value: &T, hasher: &mut StableHasher| value.stable_hash(hasher));
        self.push(ComponentPart {
            name: name.to_owned(),
            hash: Some(hash),
        })
    }

    /// Registers the component `T` for snapshots only, not for the hash: state derived from
    /// hashed state, or kept for drawing.
    pub fn component_unhashed<T: Component + Clone + Debug>(&mut self, name: &str) -> &mut Self {
        self.push(ComponentPart::<T> {
            name: name.to_owned(),
            hash: None,
        })
    }

    /// Like [`component`](Self::component), hashing each `T` through `hash` (for types that
    /// do not implement [`StableHash`], such as another crate's component).
    pub fn component_with<T: Component + Clone + Debug>(
        &mut self,
        hash: impl Fn(&T, &mut StableHasher) + Send + Sync + 'static,
    ) -> &mut Self {
        let name = self.unique_name::<T>();
        self.push(ComponentPart {
            name,
            hash: Some(Arc::new(hash)),
        })
    }

    /// Registers the resource `R`, named by its short type name: hashed (a missing resource
    /// hashes differently from any value) and copied by snapshots.
    pub fn resource<R: Resource + StableHash + Clone + Debug>(&mut self) -> &mut Self {
        let name = self.unique_name::<R>();
        self.resource_named::<R>(&name)
    }

    /// Like [`resource`](Self::resource), under the name `name`.
    pub fn resource_named<R: Resource + StableHash + Clone + Debug>(
        &mut self,
        name: &str,
    ) -> &mut Self {
        let hash: HashFn<R> =
            Arc::new(|value: &R, hasher: &mut StableHasher| value.stable_hash(hasher));
        self.push(ResourcePart {
            name: name.to_owned(),
            hash: Some(hash),
        })
    }

    /// Like [`resource`](Self::resource), hashing `R` through `hash` (for types that do not
    /// implement [`StableHash`], such as another crate's resource).
    pub fn resource_with<R: Resource + Clone + Debug>(
        &mut self,
        hash: impl Fn(&R, &mut StableHasher) + Send + Sync + 'static,
    ) -> &mut Self {
        let name = self.unique_name::<R>();
        self.push(ResourcePart {
            name,
            hash: Some(Arc::new(hash)),
        })
    }

    /// Registers the resource `R` for snapshots only, not for the hash: state derived from
    /// hashed state, or configuration.
    pub fn resource_unhashed<R: Resource + Clone + Debug>(&mut self, name: &str) -> &mut Self {
        self.push(ResourcePart::<R> {
            name: name.to_owned(),
            hash: None,
        })
    }

    /// Registers the event type `T` for snapshots: the events readable and pending when a
    /// snapshot is taken are restored with it. Events are not hashed (what they cause is).
    /// The game's input type is registered by the recorder and replayer themselves.
    pub fn event<T: Event + Clone + Debug>(&mut self) -> &mut Self {
        let name = self.unique_name::<T>();
        self.push(EventPart::<T> { name, map: None })
    }

    /// Like [`event`](Self::event), for events holding entities: they are remapped through
    /// [`MapEntities`] when a snapshot is restored.
    pub fn event_mapped<T: Event + Clone + Debug + MapEntities>(&mut self) -> &mut Self {
        let name = self.unique_name::<T>();
        let map: fn(&mut T, &mut EntityRemap) = |event, remap| event.map_entities(remap);
        self.push(EventPart::<T> {
            name,
            map: Some(map),
        })
    }

    /// The names of the registered types, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|part| part.name())
    }

    /// The registered types with their kinds, in registration order.
    pub fn registered(&self) -> impl Iterator<Item = (&str, PartKind)> {
        self.parts.iter().map(|part| (part.name(), part.kind()))
    }

    /// The names of the hashed types.
    pub(crate) fn hash_names(&self) -> Vec<&str> {
        let hashed = self.parts.iter().filter(|part| part.hashed());
        hashed.map(|part| part.name()).collect()
    }

    /// True when a type registered here is stored as `type_id` (a component, a resource or
    /// an `EventQueue`).
    pub(crate) fn holds(&self, type_id: TypeId) -> bool {
        self.parts.iter().any(|part| part.type_id() == type_id)
    }

    pub(crate) fn parts(&self) -> &[Box<dyn RegisteredPart>] {
        &self.parts
    }

    /// Hashes the registered state of `world`.
    pub fn hash(&self, world: &World) -> StateHash {
        let parts: BTreeMap<String, u64> = self
            .parts
            .iter()
            .filter_map(|part| Some((part.name().to_owned(), part.hash(world, self.entities)?)))
            .collect();
        StateHash {
            total: stable_hash_of(&parts),
            parts,
        }
    }

    /// Hashes entity ids and orders components as `entities` says (the scheme of the
    /// scenario being replayed).
    pub(crate) fn hash_entities_as(&mut self, entities: EntityScheme) {
        self.entities = entities;
    }

    /// Registers `T` as an event type unless a registration for it exists (the recorder
    /// registers the input type this way).
    pub(crate) fn ensure_event<T: Event + Clone + Debug>(&mut self) {
        if !self.holds(TypeId::of::<EventQueue<T>>()) {
            self.event::<T>();
        }
    }

    fn push(&mut self, part: impl RegisteredPart + 'static) -> &mut Self {
        self.parts.push(Box::new(part));
        self
    }

    /// The type's short name (`Position`), or its full path when another registered type
    /// already has that short name.
    fn unique_name<T>(&self) -> String {
        let full = type_name::<T>();
        let short = short_type_name(full);
        if self.names().any(|taken| taken == short) {
            full.to_owned()
        } else {
            short
        }
    }
}

/// `a::b::Foo<c::Bar>` → `Foo<Bar>`: every path inside the name loses its module prefix.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut short = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (index, c) in full.char_indices() {
        if matches!(c, '<' | '>' | ',' | '(' | ')' | '[' | ']' | ';' | '&' | ' ') {
            short.push_str(last_path_segment(&full[segment_start..index]));
            short.push(c);
            segment_start = index + c.len_utf8();
        }
    }
    short.push_str(last_path_segment(&full[segment_start..]));
    short
}

fn last_path_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// The components `T` of `world` with their entities, by index (the order that survives a
/// restore and an unrelated resource).
fn components_by_index<T: Component>(world: &World) -> Vec<(Entity, &T)> {
    // Not registered yet: no entity has one.
    let Some(state) = world.try_query::<(Entity, &T)>() else {
        return Vec::new();
    };
    let mut entries: Vec<(Entity, &T)> = state.iter_manual(world).collect();
    entries.sort_unstable_by_key(|(entity, _)| entity_order(*entity));
    entries
}

/// The stable hash of one value, or the hash of its `Debug` text for unhashed types.
fn value_hash<T>(hash: Option<&HashFn<T>>, value: &T, debug: &str) -> u64 {
    match hash {
        Some(hash) => {
            let mut hasher = StableHasher::new();
            hash(value, &mut hasher);
            hasher.finish()
        }
        None => stable_hash_of(debug),
    }
}

struct ComponentPart<T> {
    name: String,
    hash: Option<HashFn<T>>,
}

impl<T: Component + Clone + Debug> RegisteredPart for ComponentPart<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> PartKind {
        PartKind::Component
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn component_id(&self, world: &World) -> Option<ComponentId> {
        world.components().component_id::<T>()
    }

    fn hashed(&self) -> bool {
        self.hash.is_some()
    }

    fn hash(&self, world: &World, entities: EntityScheme) -> Option<u64> {
        let hash = self.hash.as_ref()?;
        let mut entries = components_by_index::<T>(world);
        if entities == EntityScheme::Version1 {
            // The order version-1 builds hashed in (by `Entity::to_bits`).
            entries.sort_unstable_by_key(|&(entity, _)| entity);
        }
        let mut hasher = StableHasher::for_entities(entities);
        hasher.write_len(entries.len());
        // The ids give the order but are not hashed: what an entity is, is its values.
        for (_, value) in entries {
            hash(value, &mut hasher);
        }
        Some(hasher.finish())
    }

    fn capture(&self, world: &World) -> Box<dyn CapturedPart> {
        let rows = components_by_index::<T>(world)
            .into_iter()
            .map(|(entity, value)| (entity, value.clone()))
            .collect();
        Box::new(ComponentRows {
            rows,
            hash: self.hash.clone(),
        })
    }
}

struct ComponentRows<T> {
    rows: Vec<(Entity, T)>,
    hash: Option<HashFn<T>>,
}

impl<T: Component + Clone + Debug> CapturedPart for ComponentRows<T> {
    fn restore(&self, world: &mut World, remap: &mut EntityRemap) {
        for (entity, value) in &self.rows {
            let mut value = value.clone();
            T::map_entities(&mut value, remap);
            if let Ok(mut target) = world.get_entity_mut(remap.map(*entity)) {
                target.insert(value);
            }
        }
    }

    fn values(&self) -> Vec<PartValue> {
        self.rows
            .iter()
            .enumerate()
            .map(|(position, (entity, value))| {
                let debug = format!("{value:?}");
                PartValue {
                    entity: Some(*entity),
                    position,
                    hash: value_hash(self.hash.as_ref(), value, &debug),
                    debug,
                }
            })
            .collect()
    }

    fn heap_bytes(&self) -> usize {
        self.rows.len() * size_of::<(Entity, T)>()
    }
}

struct ResourcePart<R> {
    name: String,
    hash: Option<HashFn<R>>,
}

impl<R: Resource + Clone + Debug> RegisteredPart for ResourcePart<R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> PartKind {
        PartKind::Resource
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<R>()
    }

    fn component_id(&self, _world: &World) -> Option<ComponentId> {
        None
    }

    fn hashed(&self) -> bool {
        self.hash.is_some()
    }

    fn hash(&self, world: &World, entities: EntityScheme) -> Option<u64> {
        let hash = self.hash.as_ref()?;
        let mut hasher = StableHasher::for_entities(entities);
        // The encoding of `Option`: a missing resource hashes unlike any value.
        match world.get_resource::<R>() {
            None => hasher.write(&0u8),
            Some(value) => {
                hasher.write(&1u8);
                hash(value, &mut hasher);
            }
        }
        Some(hasher.finish())
    }

    fn capture(&self, world: &World) -> Box<dyn CapturedPart> {
        Box::new(ResourceValue {
            value: world.get_resource::<R>().cloned(),
            hash: self.hash.clone(),
        })
    }
}

struct ResourceValue<R> {
    value: Option<R>,
    hash: Option<HashFn<R>>,
}

impl<R: Resource + Clone + Debug> CapturedPart for ResourceValue<R> {
    fn restore(&self, world: &mut World, remap: &mut EntityRemap) {
        match &self.value {
            Some(value) => {
                let mut value = value.clone();
                R::map_entities(&mut value, remap);
                world.insert_resource(value);
            }
            None => {
                world.remove_resource::<R>();
            }
        }
    }

    fn values(&self) -> Vec<PartValue> {
        let Some(value) = &self.value else {
            return Vec::new();
        };
        let debug = format!("{value:?}");
        vec![PartValue {
            entity: None,
            position: 0,
            hash: value_hash(self.hash.as_ref(), value, &debug),
            debug,
        }]
    }

    fn heap_bytes(&self) -> usize {
        size_of::<R>()
    }
}

struct EventPart<T> {
    name: String,
    map: Option<fn(&mut T, &mut EntityRemap)>,
}

impl<T: Event + Clone + Debug> RegisteredPart for EventPart<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> PartKind {
        PartKind::Event
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<EventQueue<T>>()
    }

    fn component_id(&self, _world: &World) -> Option<ComponentId> {
        None
    }

    fn hashed(&self) -> bool {
        false
    }

    fn hash(&self, _world: &World, _entities: EntityScheme) -> Option<u64> {
        None
    }

    fn capture(&self, world: &World) -> Box<dyn CapturedPart> {
        let (readable, pending) = world
            .get_resource::<EventQueue<T>>()
            .map(EventQueue::clone_contents)
            .unwrap_or_default();
        Box::new(QueuedEvents {
            readable,
            pending,
            map: self.map,
        })
    }
}

struct QueuedEvents<T> {
    readable: Vec<T>,
    pending: Vec<T>,
    map: Option<fn(&mut T, &mut EntityRemap)>,
}

impl<T: Event + Clone + Debug> CapturedPart for QueuedEvents<T> {
    fn restore(&self, world: &mut World, remap: &mut EntityRemap) {
        registry::ensure_queue::<T>(world);
        let (mut readable, mut pending) = (self.readable.clone(), self.pending.clone());
        if let Some(map) = self.map {
            readable
                .iter_mut()
                .chain(pending.iter_mut())
                .for_each(|event| map(event, remap));
        }
        world
            .resource_mut::<EventQueue<T>>()
            .restore_contents(readable, pending);
    }

    fn values(&self) -> Vec<PartValue> {
        let readable = self.readable.iter().map(|event| ("readable", event));
        let pending = self.pending.iter().map(|event| ("pending", event));
        readable
            .chain(pending)
            .enumerate()
            .map(|(position, (state, event))| {
                let debug = format!("{state}: {event:?}");
                PartValue {
                    entity: None,
                    position,
                    hash: stable_hash_of(debug.as_str()),
                    debug,
                }
            })
            .collect()
    }

    fn heap_bytes(&self) -> usize {
        (self.readable.len() + self.pending.len()) * size_of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Component, Clone, Debug)]
    struct Mass(f32);
    crate::impl_stable_hash!(Mass { 0 });

    #[derive(Resource, Clone, Debug)]
    struct Score(u32);
    crate::impl_stable_hash!(Score { 0 });

    #[test]
    fn resource_with_hashes_like_resource_and_sees_changes() {
        let mut by_impl = StateHasher::new();
        by_impl.resource::<Score>();
        let mut by_closure = StateHasher::new();
        by_closure.resource_with::<Score>(|score, hasher| hasher.write(&score.0));
        let mut world = World::new();
        assert_eq!(by_impl.hash(&world), by_closure.hash(&world), "missing");
        world.insert_resource(Score(3));
        let three = by_closure.hash(&world);
        assert_eq!(by_impl.hash(&world), three);
        world.insert_resource(Score(4));
        assert_ne!(by_closure.hash(&world), three);
    }

    fn hasher() -> StateHasher {
        let mut hasher = StateHasher::new();
        hasher.component::<Mass>().resource::<Score>();
        hasher
    }

    #[derive(Component)]
    struct Marker;

    #[test]
    fn entity_order_not_insertion_history_decides() {
        let mut plain = World::new();
        plain.spawn(Mass(1.0));
        plain.spawn(Mass(2.0));
        let mut moved = World::new();
        let first = moved.spawn(Mass(1.0)).id();
        moved.spawn(Mass(2.0));
        // A round trip through another archetype puts `first` last in its table.
        moved.entity_mut(first).insert(Marker).remove::<Marker>();
        assert_eq!(hasher().hash(&moved), hasher().hash(&plain));
    }

    #[test]
    fn adding_a_resource_shifts_ids_but_not_component_hashes() {
        let mut plain = World::new();
        plain.spawn(Mass(1.0));
        let mut shifted = World::new();
        shifted.insert_resource(Score(0));
        shifted.spawn(Mass(1.0));
        let (plain, shifted) = (hasher().hash(&plain), hasher().hash(&shifted));
        assert_eq!(plain.parts["Mass"], shifted.parts["Mass"]);
        assert_ne!(plain.parts["Score"], shifted.parts["Score"]);
    }

    #[test]
    fn each_type_has_its_own_sub_hash() {
        let mut world = World::new();
        world.spawn(Mass(1.0));
        world.insert_resource(Score(1));
        let before = hasher().hash(&world);
        world.insert_resource(Score(2));
        let after = hasher().hash(&world);
        assert_eq!(after.parts["Mass"], before.parts["Mass"]);
        assert_ne!(after.parts["Score"], before.parts["Score"]);
        assert_ne!(after.total, before.total);
        assert_eq!(
            after.differing_parts(&before.parts),
            vec!["Score".to_owned()]
        );
    }

    #[test]
    fn names_are_short_type_names_unless_chosen() {
        assert_eq!(short_type_name("a::b::Foo"), "Foo");
        assert_eq!(short_type_name("a::Foo<b::Bar, u8>"), "Foo<Bar, u8>");
        assert_eq!(hasher().names().collect::<Vec<_>>(), ["Mass", "Score"]);
        let mut named = StateHasher::new();
        named.component_named::<Mass>("mass").event::<u8>();
        let registered: Vec<_> = named.registered().collect();
        assert_eq!(
            registered,
            [("mass", PartKind::Component), ("u8", PartKind::Event)]
        );
    }

    #[test]
    fn unregistered_components_hash_as_empty_and_events_are_not_hashed() {
        let world = World::new();
        let mut hasher = hasher();
        hasher.event::<u32>();
        let hash = hasher.hash(&world);
        assert_eq!(hash.parts.len(), 2);
    }
}

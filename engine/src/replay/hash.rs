//! State hashing: a specified, fixed-seed hash over the components and resources a game
//! registers, in a stable entity order, with one sub-hash per registered type.
//!
//! The hash function is xxh3 (64 bits) seeded with [`HASH_SEED`], fed a byte encoding that
//! depends only on the values: integers little-endian, floats by their bits (`-0.0` and
//! `0.0` differ, as they may lead to different results), lengths before variable-length
//! data. Nothing here depends on the process, the platform's pointer width or the thread
//! count, so a hash recorded today verifies in another process tomorrow (same build).

use std::{any::type_name, collections::BTreeMap, time::Duration};

use bevy_ecs::{component::Component, entity::Entity, resource::Resource, world::World};
use xxhash_rust::xxh3::Xxh3;

/// The seed of every state hash ("tickbus!" in ASCII). Changing it changes every recorded
/// checkpoint, so it is part of the scenario format.
pub const HASH_SEED: u64 = u64::from_le_bytes(*b"tickbus!");

/// A streaming xxh3 hasher with the fixed [`HASH_SEED`] and typed writes.
pub struct StableHasher(Xxh3);

impl std::fmt::Debug for StableHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StableHasher").field(&self.finish()).finish()
    }
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StableHasher {
    /// A hasher seeded with [`HASH_SEED`].
    pub fn new() -> Self {
        Self(Xxh3::with_seed(HASH_SEED))
    }

    /// Feeds raw bytes (no length prefix: use [`StableHash`] on slices for that).
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Feeds a `u64`, little-endian.
    pub fn write_u64(&mut self, value: u64) {
        self.write_bytes(&value.to_le_bytes());
    }

    /// Feeds a length or count (as a `u64`, so 32- and 64-bit targets agree).
    pub fn write_len(&mut self, len: usize) {
        self.write_u64(len as u64);
    }

    /// Feeds any [`StableHash`] value.
    pub fn write<T: StableHash + ?Sized>(&mut self, value: &T) {
        value.stable_hash(self);
    }

    /// The hash of everything fed so far.
    pub fn finish(&self) -> u64 {
        self.0.digest()
    }
}

/// The hash of one value on its own.
pub fn stable_hash_of<T: StableHash + ?Sized>(value: &T) -> u64 {
    let mut hasher = StableHasher::new();
    hasher.write(value);
    hasher.finish()
}

/// A value that feeds a [`StableHasher`] with an encoding that never changes between runs,
/// processes or thread counts. Implemented for primitives (floats by bits), strings,
/// `Option`, slices, `Vec`, arrays, tuples, `Duration`, [`Entity`] and glam's vectors and
/// quaternion; for your own types use [`impl_stable_hash!`](crate::impl_stable_hash) or
/// implement it by hand (feed every field that is part of the simulation state).
pub trait StableHash {
    /// Feeds this value into `hasher`.
    fn stable_hash(&self, hasher: &mut StableHasher);
}

/// Implements [`StableHash`] for a struct by hashing the listed fields in order.
///
/// ```
/// use tickbus::replay::{StableHash, stable_hash_of};
///
/// struct Health { current: u32, regen: f32 }
/// struct Tag(u16);
/// tickbus::impl_stable_hash!(Health { current, regen });
/// tickbus::impl_stable_hash!(Tag { 0 });
///
/// let a = stable_hash_of(&Health { current: 3, regen: 0.5 });
/// let b = stable_hash_of(&Health { current: 4, regen: 0.5 });
/// assert_ne!(a, b);
/// assert_eq!(stable_hash_of(&Tag(7)), stable_hash_of(&Tag(7)));
/// ```
#[macro_export]
macro_rules! impl_stable_hash {
    ($ty:ty { $($field:tt),* $(,)? }) => {
        impl $crate::replay::StableHash for $ty {
            fn stable_hash(&self, hasher: &mut $crate::replay::StableHasher) {
                $( $crate::replay::StableHash::stable_hash(&self.$field, hasher); )*
            }
        }
    };
}

macro_rules! impl_for_le_bytes {
    ($($ty:ty),*) => {$(
        impl StableHash for $ty {
            fn stable_hash(&self, hasher: &mut StableHasher) {
                hasher.write_bytes(&self.to_le_bytes());
            }
        }
    )*};
}

impl_for_le_bytes!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl StableHash for usize {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        hasher.write_len(*self);
    }
}

impl StableHash for isize {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        (*self as i64).stable_hash(hasher);
    }
}

impl StableHash for bool {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        u8::from(*self).stable_hash(hasher);
    }
}

impl StableHash for char {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        u32::from(*self).stable_hash(hasher);
    }
}

impl StableHash for f32 {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.to_bits().stable_hash(hasher);
    }
}

impl StableHash for f64 {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.to_bits().stable_hash(hasher);
    }
}

impl StableHash for str {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        hasher.write_len(self.len());
        hasher.write_bytes(self.as_bytes());
    }
}

impl StableHash for String {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.as_str().stable_hash(hasher);
    }
}

impl<T: StableHash + ?Sized> StableHash for &T {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        (**self).stable_hash(hasher);
    }
}

impl<T: StableHash + ?Sized> StableHash for Box<T> {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        (**self).stable_hash(hasher);
    }
}

impl<T: StableHash> StableHash for Option<T> {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        match self {
            None => 0u8.stable_hash(hasher),
            Some(value) => {
                1u8.stable_hash(hasher);
                value.stable_hash(hasher);
            }
        }
    }
}

impl<T: StableHash> StableHash for [T] {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        hasher.write_len(self.len());
        self.iter().for_each(|item| item.stable_hash(hasher));
    }
}

impl<T: StableHash> StableHash for Vec<T> {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.as_slice().stable_hash(hasher);
    }
}

impl<T: StableHash, const N: usize> StableHash for [T; N] {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        // The length is part of the type: no prefix needed.
        self.iter().for_each(|item| item.stable_hash(hasher));
    }
}

impl<K: StableHash, V: StableHash> StableHash for BTreeMap<K, V> {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        hasher.write_len(self.len());
        for (key, value) in self {
            key.stable_hash(hasher);
            value.stable_hash(hasher);
        }
    }
}

macro_rules! impl_for_tuples {
    ($(($($name:ident),+)),*) => {$(
        impl<$($name: StableHash),+> StableHash for ($($name,)+) {
            #[allow(non_snake_case)]
            fn stable_hash(&self, hasher: &mut StableHasher) {
                let ($($name,)+) = self;
                $($name.stable_hash(hasher);)+
            }
        }
    )*};
}

impl_for_tuples!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H)
);

impl StableHash for () {
    fn stable_hash(&self, _hasher: &mut StableHasher) {}
}

impl StableHash for Duration {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.as_secs().stable_hash(hasher);
        self.subsec_nanos().stable_hash(hasher);
    }
}

impl StableHash for Entity {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.to_bits().stable_hash(hasher);
    }
}

macro_rules! impl_for_glam {
    ($($ty:ty),*) => {$(
        impl StableHash for $ty {
            fn stable_hash(&self, hasher: &mut StableHasher) {
                self.to_array().stable_hash(hasher);
            }
        }
    )*};
}

impl_for_glam!(
    glam::Vec2,
    glam::Vec3,
    glam::Vec3A,
    glam::Vec4,
    glam::Quat,
    glam::DVec2,
    glam::DVec3,
    glam::IVec2,
    glam::IVec3,
    glam::UVec2,
    glam::UVec3
);

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

type PartHash = Box<dyn Fn(&World) -> u64 + Send + Sync>;

/// Which components and resources make up the simulation state, and how to hash them.
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::replay::StateHasher;
///
/// #[derive(Component)]
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
    parts: Vec<(String, PartHash)>,
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

    /// Hashes every `T` in entity order (the values in that order; not the ids, which shift
    /// when a resource is added). Named by the type's short name.
    pub fn component<T: Component + StableHash>(&mut self) -> &mut Self {
        self.component_with::<T>(|value, hasher| value.stable_hash(hasher))
    }

    /// Like [`component`](Self::component), hashing each `T` through `hash` (for types that
    /// do not implement [`StableHash`], such as another crate's component).
    pub fn component_with<T: Component>(
        &mut self,
        hash: impl Fn(&T, &mut StableHasher) + Send + Sync + 'static,
    ) -> &mut Self {
        let name = self.unique_name::<T>();
        let part = move |world: &World| hash_components::<T>(world, &hash);
        self.parts.push((name, Box::new(part)));
        self
    }

    /// Hashes the resource `R` (a missing resource hashes differently from any value).
    pub fn resource<R: Resource + StableHash>(&mut self) -> &mut Self {
        let name = self.unique_name::<R>();
        let part = |world: &World| stable_hash_of(&world.get_resource::<R>());
        self.parts.push((name, Box::new(part)));
        self
    }

    /// Like [`resource`](Self::resource), hashing `R` through `hash` (for types that do not
    /// implement [`StableHash`], such as another crate's resource). A missing resource hashes
    /// differently from any value.
    pub fn resource_with<R: Resource>(
        &mut self,
        hash: impl Fn(&R, &mut StableHasher) + Send + Sync + 'static,
    ) -> &mut Self {
        let name = self.unique_name::<R>();
        let part = move |world: &World| {
            let mut hasher = StableHasher::new();
            match world.get_resource::<R>() {
                None => hasher.write(&0u8),
                Some(value) => {
                    hasher.write(&1u8);
                    hash(value, &mut hasher);
                }
            }
            hasher.finish()
        };
        self.parts.push((name, Box::new(part)));
        self
    }

    /// The names of the registered types, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|(name, _)| name.as_str())
    }

    /// Hashes the registered state of `world`.
    pub fn hash(&self, world: &World) -> StateHash {
        let parts: BTreeMap<String, u64> = self
            .parts
            .iter()
            .map(|(name, part)| (name.clone(), part(world)))
            .collect();
        StateHash {
            total: stable_hash_of(&parts),
            parts,
        }
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
fn short_type_name(full: &str) -> String {
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

fn hash_components<T: Component>(world: &World, hash: &impl Fn(&T, &mut StableHasher)) -> u64 {
    let mut hasher = StableHasher::new();
    // Not registered yet: no entity has one, which hashes like an empty set.
    let Some(state) = world.try_query::<(Entity, &T)>() else {
        hasher.write_len(0);
        return hasher.finish();
    };
    let mut entries: Vec<(Entity, &T)> = state.iter_manual(world).collect();
    // Archetype iteration order depends on insertion history; entity ids do not.
    entries.sort_unstable_by_key(|(entity, _)| *entity);
    hasher.write_len(entries.len());
    // The ids give the order but are not hashed: resources are entities in bevy_ecs 0.20, so
    // adding one shifts every id without changing any component.
    for (_, value) in entries {
        hash(value, &mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Component)]
    struct Mass(f32);
    impl_stable_hash!(Mass { 0 });

    #[derive(Resource)]
    struct Score(u32);
    impl_stable_hash!(Score { 0 });

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

    #[test]
    fn the_encoding_is_specified() {
        // xxh3 with the fixed seed over the little-endian bytes: independent of the process.
        let expected = xxhash_rust::xxh3::xxh3_64_with_seed(&7u32.to_le_bytes(), HASH_SEED);
        assert_eq!(stable_hash_of(&7u32), expected);
        let bits =
            xxhash_rust::xxh3::xxh3_64_with_seed(&(-0.0f32).to_bits().to_le_bytes(), HASH_SEED);
        assert_eq!(stable_hash_of(&-0.0f32), bits);
        assert_ne!(stable_hash_of(&-0.0f32), stable_hash_of(&0.0f32));
    }

    #[test]
    fn variable_length_values_are_prefixed() {
        assert_ne!(
            stable_hash_of(&("ab".to_owned(), "c".to_owned())),
            stable_hash_of(&("a".to_owned(), "bc".to_owned()))
        );
        assert_ne!(stable_hash_of(&None::<u8>), stable_hash_of(&Some(0u8)));
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
    fn names_are_short_type_names() {
        assert_eq!(short_type_name("a::b::Foo"), "Foo");
        assert_eq!(short_type_name("a::Foo<b::Bar, u8>"), "Foo<Bar, u8>");
        assert_eq!(hasher().names().collect::<Vec<_>>(), ["Mass", "Score"]);
    }

    #[test]
    fn unregistered_components_hash_as_empty() {
        let world = World::new();
        let hash = hasher().hash(&world);
        assert_eq!(hash.parts.len(), 2);
    }
}

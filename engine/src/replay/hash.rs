//! Stable hashing: a specified, fixed-seed hash of values, the building block of state
//! hashes (the registration of what a state is lives in `state.rs`).
//!
//! The hash function is xxh3 (64 bits) seeded with [`HASH_SEED`], fed a byte encoding that
//! depends only on the values: integers little-endian, floats by their bits (`-0.0` and
//! `0.0` differ, as they may lead to different results; every NaN is one canonical NaN),
//! lengths before variable-length data, entities by index (in the replay of a version-1
//! file: by index and generation, as then). Nothing here depends on the process, the
//! platform's pointer width or the thread count, so a hash recorded today verifies in
//! another process tomorrow (same build).

use std::{collections::BTreeMap, time::Duration};

use bevy_ecs::entity::Entity;
use xxhash_rust::xxh3::Xxh3;

use super::EntityScheme;

/// The seed of every state hash ("tickbus!" in ASCII). Changing it changes every recorded
/// checkpoint, so it is part of the scenario format.
pub const HASH_SEED: u64 = u64::from_le_bytes(*b"tickbus!");

/// A streaming xxh3 hasher with the fixed [`HASH_SEED`] and typed writes.
pub struct StableHasher {
    xxh3: Xxh3,
    /// How an [`Entity`] is fed: the recording's scheme (version-1 files differ).
    entities: EntityScheme,
}

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
        Self::for_entities(EntityScheme::Current)
    }

    /// A hasher that feeds entities as `entities` says.
    pub(crate) fn for_entities(entities: EntityScheme) -> Self {
        Self {
            xxh3: Xxh3::with_seed(HASH_SEED),
            entities,
        }
    }

    /// Feeds raw bytes (no length prefix: use [`StableHash`] on slices for that).
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.xxh3.update(bytes);
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
        self.xxh3.digest()
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

/// Every NaN hashes as this one: NaN payloads and signs differ between platforms and
/// compilers (and the sign of a NaN result is not specified), so they must not reach a hash.
const CANONICAL_NAN_F32: u32 = 0x7fc0_0000;
const CANONICAL_NAN_F64: u64 = 0x7ff8_0000_0000_0000;

impl StableHash for f32 {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        let bits = if self.is_nan() {
            CANONICAL_NAN_F32
        } else {
            self.to_bits()
        };
        bits.stable_hash(hasher);
    }
}

impl StableHash for f64 {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        let bits = if self.is_nan() {
            CANONICAL_NAN_F64
        } else {
            self.to_bits()
        };
        bits.stable_hash(hasher);
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

/// An entity hashes as its index. Its generation is left out: a restored
/// [snapshot](super::Snapshot) keeps every index but may give it another generation (see
/// the crate docs, "Deterministic simulation"). In the replay of a version-1 file
/// ([`EntityScheme::Version1`]) it hashes as its index and generation, as it did then.
impl StableHash for Entity {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        match hasher.entities {
            EntityScheme::Current => self.index_u32().stable_hash(hasher),
            // What version-1 builds hashed, so that their recordings still verify.
            EntityScheme::Version1 => self.to_bits().stable_hash(hasher),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn every_nan_hashes_alike_on_every_platform() {
        let quiet = f32::NAN;
        let negative = -f32::NAN;
        let payload = f32::from_bits(0x7fc0_1234);
        let signalling = f32::from_bits(0x7f80_0001);
        for nan in [negative, payload, signalling] {
            assert_eq!(stable_hash_of(&nan), stable_hash_of(&quiet));
        }
        assert_eq!(
            stable_hash_of(&f64::from_bits(0xfff8_0000_0000_0001)),
            stable_hash_of(&f64::NAN)
        );
        assert_ne!(stable_hash_of(&f32::INFINITY), stable_hash_of(&quiet));
    }

    #[test]
    fn entities_hash_by_index_only() {
        let first = Entity::from_raw_u32(5).unwrap();
        let later =
            Entity::from_index_and_generation(first.index(), first.generation().after_versions(3));
        assert_eq!(stable_hash_of(&first), stable_hash_of(&later));
        assert_ne!(
            stable_hash_of(&first),
            stable_hash_of(&Entity::from_raw_u32(6).unwrap())
        );
    }

    #[test]
    fn variable_length_values_are_prefixed() {
        assert_ne!(
            stable_hash_of(&("ab".to_owned(), "c".to_owned())),
            stable_hash_of(&("a".to_owned(), "bc".to_owned()))
        );
        assert_ne!(stable_hash_of(&None::<u8>), stable_hash_of(&Some(0u8)));
    }
}

//! The seeded RNG: one independent, deterministic stream per system.
//!
//! Every system that takes a [`SimRng`] gets its own PCG-32 generator, seeded from the
//! simulation seed ([`SimSeed`]) and the system's name. A system's numbers therefore depend
//! only on the seed, its name and how many numbers it drew before: adding, removing or
//! reordering other systems never shifts them, and neither does the thread count.

use bevy_ecs::{
    resource::Resource,
    system::{Local, Res, SystemName, SystemParam},
};
use std::convert::Infallible;

use rand_core::{Rng, TryRng};
use rand_pcg::Pcg32;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The seed of a simulation run. Recorders and replayers insert it from the scenario before
/// the game is built; without it, [`SimRng`] uses seed 0.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimSeed(pub u64);

/// A system's own deterministic random number generator.
///
/// The stream is keyed by the system's full name (module path included, so it needs
/// bevy_ecs's `debug` feature, which tickbus enables) and seeded the first time the system
/// runs. Two systems with the same name (two closures in one function) get equal streams.
///
/// The helpers ([`unit_f32`](Self::unit_f32), [`range_f32`](Self::range_f32),
/// [`below`](Self::below)) are specified here, so recorded scenarios keep replaying when the
/// `rand` crate changes its algorithms. It implements rand_core 0.10's [`TryRng`] with
/// `Error = Infallible`, so it is an [`Rng`] for every `rand` 0.10 API (the version bevy 0.20
/// uses).
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::replay::{SimRng, SimSeed};
///
/// #[derive(Resource, Default)]
/// struct Rolls(Vec<u32>);
///
/// fn roll(mut rng: SimRng, mut rolls: ResMut<Rolls>) {
///     let value = rng.below(6) + 1;
///     rolls.0.push(value);
/// }
///
/// let run = |seed| {
///     let mut app = App::new();
///     app.insert_resource(SimSeed(seed)).init_resource::<Rolls>().add_systems(roll);
///     let mut engine = app.build().unwrap();
///     engine.run_ticks(20).unwrap();
///     engine.world().resource::<Rolls>().0.clone()
/// };
/// assert_eq!(run(7), run(7));
/// assert_ne!(run(7), run(8));
/// assert!(run(7).iter().all(|value| (1..=6).contains(value)));
/// ```
#[derive(SystemParam)]
pub struct SimRng<'w, 's> {
    seed: Option<Res<'w, SimSeed>>,
    name: SystemName,
    state: Local<'s, Option<Pcg32>>,
}

impl std::fmt::Debug for SimRng<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRng")
            .field("system", &self.name.as_str())
            .field("seed", &self.seed.as_deref())
            .field("started", &self.state.is_some())
            .finish()
    }
}

impl SimRng<'_, '_> {
    /// The system's generator, seeded on first use.
    pub fn generator(&mut self) -> &mut Pcg32 {
        let seed = self.seed.as_deref().map_or(0, |seed| seed.0);
        let name = self.name.as_str();
        self.state.get_or_insert_with(|| stream_for(seed, name))
    }

    /// A uniform `f32` in `[0, 1)`: the top 24 bits of a `u32`, exactly representable.
    pub fn unit_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// A uniform `f32` in `[low, high)` (`low` when the range is empty).
    pub fn range_f32(&mut self, low: f32, high: f32) -> f32 {
        let unit = self.unit_f32();
        if high > low {
            low + (high - low) * unit
        } else {
            low
        }
    }

    /// A uniform integer in `0..bound` (0 when `bound` is 0), without modulo bias
    /// (Lemire's multiply-and-reject).
    pub fn below(&mut self, bound: u32) -> u32 {
        if bound == 0 {
            return 0;
        }
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u64::from(self.next_u32()) * u64::from(bound);
            if (product as u32) >= threshold {
                return (product >> 32) as u32;
            }
        }
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f32) -> bool {
        self.unit_f32() < p
    }
}

impl TryRng for SimRng<'_, '_> {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.generator().next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.generator().next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.generator().fill_bytes(dst);
        Ok(())
    }
}

/// The generator of the system `name` under `seed`: the state from (seed, name), the PCG
/// stream (increment) from the name alone, so streams of different systems never coincide.
pub fn stream_for(seed: u64, name: &str) -> Pcg32 {
    let state = xxh3_64_with_seed(name.as_bytes(), seed);
    let stream = xxh3_64_with_seed(name.as_bytes(), super::HASH_SEED);
    Pcg32::new(state, stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_and_name_only() {
        let draw = |seed, name| {
            let mut rng = stream_for(seed, name);
            [rng.next_u32(), rng.next_u32()]
        };
        assert_eq!(draw(1, "game::spawn"), draw(1, "game::spawn"));
        assert_ne!(draw(1, "game::spawn"), draw(2, "game::spawn"));
        assert_ne!(draw(1, "game::spawn"), draw(1, "game::wind"));
    }
}

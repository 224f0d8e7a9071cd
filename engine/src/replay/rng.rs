//! The seeded RNG: one independent, deterministic stream per system and tick.
//!
//! Every system that takes a [`SimRng`] gets a PCG-32 generator seeded from the simulation
//! seed ([`SimSeed`]), the system's name and the tick, started afresh in every run of the
//! system. A system's numbers therefore depend only on the seed, its name, the tick and how
//! many numbers it drew before in this tick: adding, removing or reordering other systems
//! never shifts them, neither does the thread count, nor a tick in which the system was
//! skipped — and there is no generator state to save: a restored
//! [`Snapshot`](super::Snapshot) draws the same numbers as the run it was taken from.

use bevy_ecs::{
    change_detection::Tick,
    resource::Resource,
    system::{Local, Res, SystemChangeTick, SystemName, SystemParam},
};
use std::convert::Infallible;

use crate::SimTime;

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
/// bevy_ecs's `debug` feature, which tickbus enables) and the tick, and started afresh every
/// time the system runs ([`stream_for`]). Two systems with the same name (two closures in one
/// function) get equal streams.
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
    time: Option<Res<'w, SimTime>>,
    name: SystemName,
    run: SystemChangeTick,
    state: Local<'s, Option<RunStream>>,
}

/// The generator of one run of a system: which run (the simulation tick and bevy's tick of
/// the run, new for every run) and the generator.
pub struct RunStream {
    tick: u64,
    run: Tick,
    generator: Pcg32,
}

impl std::fmt::Debug for RunStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunStream")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SimRng<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRng")
            .field("system", &self.name.as_str())
            .field("seed", &self.seed.as_deref())
            .field("tick", &self.tick())
            .finish()
    }
}

impl SimRng<'_, '_> {
    /// The tick whose stream this is.
    fn tick(&self) -> u64 {
        self.time.as_deref().map_or(0, SimTime::tick)
    }

    /// This run's generator, seeded on first use in the run.
    pub fn generator(&mut self) -> &mut Pcg32 {
        let (tick, run) = (self.tick(), self.run.this_run());
        let current = self
            .state
            .as_ref()
            .is_some_and(|stream| stream.tick == tick && stream.run == run);
        if !current {
            let seed = self.seed.as_deref().map_or(0, |seed| seed.0);
            let generator = stream_for(seed, self.name.as_str(), tick);
            *self.state = Some(RunStream {
                tick,
                run,
                generator,
            });
        }
        match &mut *self.state {
            Some(stream) => &mut stream.generator,
            None => unreachable!("the stream was just set"),
        }
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

/// The generator of the system `name` in tick `tick` under `seed`: the state from (seed,
/// name, tick), the PCG stream (increment) from the name alone, so streams of different
/// systems never coincide.
pub fn stream_for(seed: u64, name: &str, tick: u64) -> Pcg32 {
    let key = xxh3_64_with_seed(name.as_bytes(), seed);
    let state = xxh3_64_with_seed(&tick.to_le_bytes(), key);
    let stream = xxh3_64_with_seed(name.as_bytes(), super::HASH_SEED);
    Pcg32::new(state, stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_name_and_tick_only() {
        let draw = |seed, name, tick| {
            let mut rng = stream_for(seed, name, tick);
            [rng.next_u32(), rng.next_u32()]
        };
        assert_eq!(draw(1, "game::spawn", 4), draw(1, "game::spawn", 4));
        assert_ne!(draw(1, "game::spawn", 4), draw(2, "game::spawn", 4));
        assert_ne!(draw(1, "game::spawn", 4), draw(1, "game::wind", 4));
        assert_ne!(draw(1, "game::spawn", 4), draw(1, "game::spawn", 5));
    }
}

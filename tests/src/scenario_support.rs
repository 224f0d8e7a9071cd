//! Helpers for the scenario tests and the recording example: executors to compare, the
//! scenarios folder, random sparse inputs and recording a particle run.

use std::path::{Path, PathBuf};

use glam::Vec2;
use rand_core::Rng;
use rand_pcg::Pcg32;
use tickbus::{
    ExecutorKind, TickError,
    replay::{Game, GameScenario, Recorder, TimedInput},
};

use crate::particles::{ParticleInput, ParticlesConfig};

/// The executors every scenario must replay identically on: sequential, the parallel
/// executor with 1, 2, 4 and 8 threads offering every system to its workers (so that systems
/// really overlap), and the adaptive parallel executor on 2 threads.
pub fn executors() -> Vec<ExecutorKind> {
    let mut kinds = vec![ExecutorKind::Sequential];
    kinds.extend([1, 2, 4, 8].map(ExecutorKind::forced_parallel));
    kinds.push(ExecutorKind::parallel(2));
    kinds
}

/// The workspace's `scenarios/` folder.
pub fn scenarios_dir() -> PathBuf {
    let tests_package = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_package
        .parent()
        .unwrap_or(tests_package)
        .join("scenarios")
}

/// The golden particle scenario: its file, and how it is recorded.
pub struct GoldenParticles;

impl GoldenParticles {
    /// The file name in `scenarios/`.
    pub const FILE: &'static str = "particles.ron";
    /// The simulation seed.
    pub const SEED: u64 = 2026;
    /// Ticks recorded.
    pub const TICKS: u64 = 3000;
    /// Checkpoint interval.
    pub const CHECKPOINT_EVERY: u64 = 100;
    /// Seed of the generated inputs.
    pub const INPUT_SEED: u64 = 7;
    /// Mean gap between inputs, in ticks.
    pub const INPUT_GAP: u64 = 40;

    /// Records the golden scenario (what `scenarios/particles.ron` must contain).
    pub fn record() -> GameScenario<crate::particles::Particles> {
        let inputs = random_inputs(Self::INPUT_SEED, Self::TICKS, Self::INPUT_GAP);
        let setup = RecordSetup {
            seed: Self::SEED,
            ticks: Self::TICKS,
            checkpoint_every: Self::CHECKPOINT_EVERY,
            executor: ExecutorKind::parallel(2),
        };
        let (scenario, result) =
            record::<crate::particles::Particles>(&ParticlesConfig::default(), &setup, &inputs);
        if let Err(error) = result {
            panic!("the golden particle run crashed: {error}");
        }
        scenario
    }
}

/// Sparse random particle inputs: about one every `mean_gap` ticks (never more than one per
/// tick), each an impulse, a burst or a wind change, in tick order.
pub fn random_inputs(seed: u64, ticks: u64, mean_gap: u64) -> Vec<TimedInput<ParticleInput>> {
    let mut rng = Pcg32::new(seed, 0x0a02_bdbf_7bb3_c0a7);
    let mut inputs = Vec::new();
    let mut tick = below(&mut rng, mean_gap + 1);
    while tick < ticks {
        inputs.push(TimedInput {
            tick,
            event: random_input(&mut rng),
        });
        tick += 1 + below(&mut rng, 2 * mean_gap);
    }
    inputs
}

fn random_input(rng: &mut Pcg32) -> ParticleInput {
    let point =
        |rng: &mut Pcg32| Vec2::new(between(rng, -100.0, 100.0), between(rng, -100.0, 100.0));
    match below(rng, 3) {
        0 => ParticleInput::Impulse {
            at: point(rng),
            radius: between(rng, 5.0, 60.0),
            push: point(rng) * 0.5,
        },
        1 => ParticleInput::Burst {
            at: point(rng),
            count: 1 + below(rng, 11) as u32,
        },
        _ => ParticleInput::Wind(point(rng) * 0.1),
    }
}

/// A number in `0..bound` (`bound` > 0; the tiny modulo bias does not matter here).
fn below(rng: &mut Pcg32, bound: u64) -> u64 {
    rng.next_u64() % bound
}

/// A float in `[low, high)`.
fn between(rng: &mut Pcg32, low: f32, high: f32) -> f32 {
    let unit = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
    low + (high - low) * unit
}

/// How [`record`] runs.
pub struct RecordSetup {
    /// The simulation seed.
    pub seed: u64,
    /// Ticks to record.
    pub ticks: u64,
    /// Checkpoint interval.
    pub checkpoint_every: u64,
    /// The executor of the recorded run.
    pub executor: ExecutorKind,
}

/// Records `ticks` ticks of `G`, sending each input through the live channel just before
/// its tick. Returns the scenario and how the run ended (a crash ends it early).
pub fn record<G: Game<Config = ParticlesConfig, Input = ParticleInput>>(
    config: &ParticlesConfig,
    setup: &RecordSetup,
    inputs: &[TimedInput<ParticleInput>],
) -> (GameScenario<G>, Result<(), TickError>) {
    let mut recorder = Recorder::<G>::builder(config.clone())
        .seed(setup.seed)
        .checkpoint_every(setup.checkpoint_every)
        .executor(setup.executor)
        .build()
        .expect("the particle game builds");
    let sender = recorder.input();
    let mut pending = inputs.iter().peekable();
    let mut result = Ok(());
    for tick in 0..setup.ticks {
        while let Some(input) = pending.next_if(|input| input.tick == tick) {
            sender.send(input.event).expect("the engine is alive");
        }
        result = recorder.tick();
        if result.is_err() {
            break;
        }
    }
    (recorder.scenario(), result)
}

/// A short particle recording on the sequential executor (for format and loading tests):
/// `ticks` ticks, an input about every three ticks generated from `input_seed`, a
/// checkpoint every `checkpoint_every` ticks. Panics if the run crashes.
pub fn short_particle_run(
    seed: u64,
    ticks: u64,
    checkpoint_every: u64,
    input_seed: u64,
) -> GameScenario<crate::particles::Particles> {
    let setup = RecordSetup {
        seed,
        ticks,
        checkpoint_every,
        executor: ExecutorKind::Sequential,
    };
    let inputs = random_inputs(input_seed, ticks, 3);
    let (scenario, result) =
        record::<crate::particles::Particles>(&ParticlesConfig::default(), &setup, &inputs);
    result.expect("the short particle run does not crash");
    scenario
}

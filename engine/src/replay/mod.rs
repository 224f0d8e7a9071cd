//! Scenarios: record a run, replay it bit for bit, report the first divergence.
//!
//! A [`Game`] says how to build a simulation from its configuration and which state to hash.
//! A [`Recorder`] runs it, capturing every input event with the tick that collected it and a
//! [`Checkpoint`] (state hash with one sub-hash per component type) every K ticks; its
//! [`Scenario`] is written as pretty RON (format version [`FORMAT_VERSION`], documented in
//! `scenarios/README.md`). A [`Replayer`] rebuilds the game from the scenario, feeds the
//! inputs back at their ticks instead of the live channel, runs headless and compares every
//! checkpoint: its [`ReplayReport`] names the first divergent checkpoint, the tick range the
//! divergence arose in and the component types that differ. A panic in a recorded run ends
//! the recording; the scenario then reproduces the panic on replay.
//!
//! What makes runs reproducible: inputs only through the recorded source, randomness only
//! through [`SimRng`], integer ticks and [`SimTime`](crate::SimTime), and no float reduction whose
//! grouping depends on the thread count (see [`ComputePool`](crate::ComputePool)).
//!
//! ```
//! use tickbus::prelude::*;
//! use tickbus::replay::*;
//!
//! /// A counter that adds every input and a random step each tick.
//! struct Counter;
//!
//! #[derive(Resource, Default, Clone, Debug)]
//! struct Total(u64);
//! tickbus::impl_stable_hash!(Total { 0 });
//!
//! fn add(inputs: EventReader<u64>, mut rng: SimRng, mut total: ResMut<Total>) {
//!     total.0 += inputs.iter().sum::<u64>() + u64::from(rng.below(3));
//! }
//!
//! impl Game for Counter {
//!     const NAME: &'static str = "counter";
//!     type Config = u64;
//!     type Input = u64;
//!     fn build(start: &u64, app: &mut App) {
//!         app.insert_resource(Total(*start)).add_systems(add);
//!     }
//!     fn register_state(hasher: &mut StateHasher) {
//!         hasher.resource::<Total>();
//!     }
//! }
//!
//! let mut recorder = Recorder::<Counter>::builder(10).seed(42).checkpoint_every(25).build()?;
//! recorder.input().send(7)?;
//! recorder.run_ticks(100)?;
//! let text = recorder.scenario().to_ron()?;
//!
//! let scenario = Scenario::parse::<Counter>(&text, "counter.ron")?;
//! assert_eq!(scenario.inputs[0].tick, 0);
//! let report = Replayer::<Counter>::new(&scenario).executor(ExecutorKind::Sequential).run()?;
//! assert!(report.is_verified(), "{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod allocator;
mod composition;
mod diagnose;
mod error;
mod format;
mod game;
mod hash;
mod load;
mod locate;
mod physics_state;
mod recorder;
mod replayer;
mod rng;
mod save;
mod snapshot;
mod snapshots;
mod state;
mod timedemo;
mod timeline;

pub use diagnose::{
    DivergenceReport, FailedRun, Pinned, RestoreCheck, RestoreMismatch, bisect, bisect_against,
    verify_restore,
};
pub use error::{FormatError, MAX_TICK_RATE, ScenarioError, TextPosition};
pub use format::{
    BranchPoint, Checkpoint, Composition, EntityScheme, FORMAT_VERSION, OLDEST_FORMAT_VERSION,
    RecordedCrash, RecordedValue, Scenario, TimedInput,
};
pub use game::{ConfigRefusal, Game, GameScenario, RunSetup, build_game, state_hasher};
pub use hash::{HASH_SEED, StableHash, StableHasher, stable_hash_of};
pub use load::{DEFAULT_MAX_SCENARIO_BYTES, LoadOptions, ScenarioInfo};
pub use recorder::{DEFAULT_CHECKPOINT_EVERY, Recorder, RecorderBuilder};
pub use replayer::{Divergence, ReplayError, ReplayReport, Replayer};
pub use rng::{SimRng, SimSeed, stream_for};
pub use snapshot::{Snapshot, SnapshotError, Uncaptured, ValueDiff};
pub use snapshots::{DEFAULT_SNAPSHOT_BUDGET, DEFAULT_SNAPSHOT_EVERY, SnapshotPolicy, Snapshots};
pub use state::{PartKind, PartValue, StateHash, StateHasher};
pub use timedemo::{
    EventRate, Parallelism, Spread, SystemSpread, TickRecord, Timedemo, TimedemoRecords,
    TimedemoReport, TimedemoSummary,
};
pub use timeline::{TimeTravelError, Timeline};

//! Replaying a scenario: rebuild the game, feed the recorded inputs at their ticks, run
//! headless as fast as possible and compare every checkpoint.

use std::{
    fmt,
    ops::Range,
    time::{Duration, Instant},
};

use crate::{BuildError, Engine, ExecutorKind, ExecutorTotals, TickError};

use super::{
    Checkpoint, EntityScheme, Game, GameScenario, RecordedCrash, RunSetup, Scenario, ScenarioError,
    StateHasher,
    composition::composition_of,
    game::{build_game_numbering, check_playable, feed_inputs, state_hasher},
};

/// Why a replay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The scenario is not one this game can replay (version, game, tick orders).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The game's engine could not be built.
    #[error("cannot build the game: {0}")]
    Build(#[from] BuildError),
    /// A snapshot of the replay could not be taken or restored.
    #[error(transparent)]
    Snapshot(#[from] super::SnapshotError),
    /// Going to a tick of the replay failed (a system failed on the way).
    #[error(transparent)]
    TimeTravel(super::TimeTravelError),
    /// The scenario comes from a version-1 file ([`EntityScheme::Version1`]): it replays,
    /// but it cannot be rewound (opened on a [`Timeline`](super::Timeline), bisected or
    /// restore-verified). Its state hashes entity generations, which a restored snapshot
    /// cannot give back, and its allocator was never primed, so a snapshot taken before its
    /// first despawn cannot be restored once it despawned. Record it again with this build
    /// ([`Recorder::rerecord`](super::Recorder::rerecord)) to time-travel in it.
    #[error(
        "a scenario recorded by a version-1 build (entity_scheme: Version1) replays but cannot \
         be rewound (time travel, bisect, restore checks): record it again with this build \
         (Recorder::rerecord)"
    )]
    Version1NotRewindable,
}

/// Refuses a scenario whose entity scheme snapshots cannot restore (a version-1 file).
pub(crate) fn check_rewindable<C, I>(scenario: &Scenario<C, I>) -> Result<(), ReplayError> {
    match scenario.recorded_entity_scheme() {
        EntityScheme::Current => Ok(()),
        EntityScheme::Version1 => Err(ReplayError::Version1NotRewindable),
    }
}

/// Where a replay first stopped being the recorded run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Divergence {
    /// A checkpoint's state hash differs.
    State {
        /// The checkpoint's tick (ticks run before it was taken).
        tick: u64,
        /// The tick of the last checkpoint that matched (`None`: the first one failed).
        last_verified: Option<u64>,
        /// The component and resource types whose sub-hash differs.
        components: Vec<String>,
        /// The recorded combined hash.
        expected: u64,
        /// The replayed combined hash.
        found: u64,
    },
    /// A system crashed where the recording did not.
    UnexpectedCrash(TickError),
    /// The recording ended with a crash that the replay did not reproduce (`found`: the
    /// replay crashed differently, `None`: it did not crash).
    CrashNotReproduced {
        /// The recorded crash.
        expected: RecordedCrash,
        /// The replay's crash, if any.
        found: Option<TickError>,
    },
}

impl Divergence {
    /// The ticks in which the divergence arose: between the last verified checkpoint and
    /// the failing one for a state mismatch (a single tick with per-tick checkpoints), the
    /// crashed tick for a crash. Empty at 0 when the built state (tick 0) already differs.
    pub fn ticks(&self) -> Range<u64> {
        match self {
            Divergence::State {
                tick,
                last_verified,
                ..
            } => last_verified.unwrap_or(0)..*tick,
            Divergence::UnexpectedCrash(error) => error.tick()..error.tick().saturating_add(1),
            Divergence::CrashNotReproduced { expected, found } => {
                let tick = found.as_ref().map_or(expected.tick, TickError::tick);
                tick.min(expected.tick)..tick.max(expected.tick).saturating_add(1)
            }
        }
    }

    /// The tick in which the divergence arose, when it is known exactly.
    pub fn first_divergent_tick(&self) -> Option<u64> {
        let ticks = self.ticks();
        (ticks.end == ticks.start.saturating_add(1)).then_some(ticks.start)
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::State {
                tick, components, ..
            } => {
                let ticks = self.ticks();
                write!(
                    f,
                    "state differs at checkpoint {tick} (arose in ticks {}..{}): {}",
                    ticks.start,
                    ticks.end,
                    components.join(", ")
                )
            }
            Divergence::UnexpectedCrash(error) => write!(f, "unexpected crash: {error}"),
            Divergence::CrashNotReproduced { expected, found } => write!(
                f,
                "recorded crash of {} in tick {} not reproduced (replay: {})",
                expected.system,
                expected.tick,
                found
                    .as_ref()
                    .map_or("no crash".to_owned(), |e| e.to_string())
            ),
        }
    }
}

/// What a replay did and found.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayReport {
    /// Ticks run.
    pub ticks_run: u64,
    /// Ticks in the scenario.
    pub ticks_total: u64,
    /// Wall time of the ticks and checks (building the game excluded).
    pub elapsed: Duration,
    /// Checkpoints that matched.
    pub checkpoints_verified: usize,
    /// Checkpoints in the scenario.
    pub checkpoints_total: usize,
    /// The replay's hash at every checkpoint it reached: `(tick, combined hash)`.
    pub hashes: Vec<(u64, u64)>,
    /// The crash that ended the replay, if one did (recorded or not).
    pub crash: Option<TickError>,
    /// The first divergence from the recording, if any.
    pub divergence: Option<Divergence>,
    /// After a divergence: how this app differs from the one that recorded the scenario
    /// (systems, registered state, resources; see [`Composition::changes_to`](super::Composition::changes_to)). Empty when
    /// they match or the scenario does not say (format version 1).
    pub composition_changes: Vec<String>,
    /// How the executor ran the systems (whether they really overlapped).
    pub executor: ExecutorTotals,
}

impl ReplayReport {
    /// Ticks per second of wall time.
    pub fn ticks_per_second(&self) -> f64 {
        self.ticks_run as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// True when the replay is the recorded run: every tick ran, every checkpoint matched
    /// and a recorded crash (if any) happened again.
    pub fn is_verified(&self) -> bool {
        self.divergence.is_none()
            && self.ticks_run == self.ticks_total
            && self.checkpoints_verified == self.checkpoints_total
    }

    /// After a divergence, when this app differs from the one that recorded the scenario:
    /// that difference as the likely cause, in words (see
    /// [`composition_changes`](Self::composition_changes)).
    pub fn likely_cause(&self) -> Option<String> {
        if self.divergence.is_none() || self.composition_changes.is_empty() {
            return None;
        }
        Some(format!(
            "likely cause: the app differs from the one that recorded ({}) — query order can \
             follow the app's composition, so order-sensitive systems should iterate in entity \
             order",
            self.composition_changes.join(", ")
        ))
    }

    /// True when the replay crashed as recorded (same tick, system and message).
    pub fn crash_reproduced(&self) -> bool {
        self.crash.is_some() && self.divergence.is_none()
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} ticks in {:.3}s ({:.0} ticks/s), {}/{} checkpoints verified",
            self.ticks_run,
            self.ticks_total,
            self.elapsed.as_secs_f64(),
            self.ticks_per_second(),
            self.checkpoints_verified,
            self.checkpoints_total
        )?;
        if let Some(crash) = self.crash.as_ref().filter(|_| self.divergence.is_none()) {
            write!(f, "; recorded crash reproduced: {crash}")?;
        }
        match &self.divergence {
            Some(divergence) => write!(f, "; DIVERGED: {divergence}")?,
            None => return Ok(()),
        }
        if let Some(cause) = self.likely_cause() {
            write!(f, "; {cause}")?;
        }
        Ok(())
    }
}

/// Replays a [`Scenario`](super::Scenario) of the game `G`.
///
/// ```
/// # use tickbus::prelude::*;
/// # use tickbus::replay::*;
/// # struct Counter;
/// # #[derive(Resource, Default, Clone, Debug)] struct Total(u64);
/// # tickbus::impl_stable_hash!(Total { 0 });
/// # fn add(inputs: EventReader<u64>, mut total: ResMut<Total>) { total.0 += inputs.iter().sum::<u64>(); }
/// # impl Game for Counter {
/// #     const NAME: &'static str = "counter";
/// #     type Config = ();
/// #     type Input = u64;
/// #     fn build(_: &(), app: &mut App) { app.init_resource::<Total>().add_systems(add); }
/// #     fn register_state(hasher: &mut StateHasher) { hasher.resource::<Total>(); }
/// # }
/// let mut recorder = Recorder::<Counter>::builder(()).checkpoint_every(10).build()?;
/// recorder.input().send(5)?;
/// recorder.run_ticks(30)?;
/// let scenario = recorder.scenario();
///
/// let report = Replayer::<Counter>::new(&scenario).executor(ExecutorKind::parallel(2)).run()?;
/// assert!(report.is_verified(), "{report}");
/// assert_eq!(report.checkpoints_verified, 4); // ticks 0, 10, 20, 30
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Replayer<'a, G: Game> {
    scenario: &'a GameScenario<G>,
    executor: ExecutorKind,
}

impl<G: Game> std::fmt::Debug for Replayer<'_, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replayer")
            .field("game", &G::NAME)
            .field("ticks", &self.scenario.ticks)
            .field("executor", &self.executor)
            .finish()
    }
}

impl<'a, G: Game> Replayer<'a, G> {
    /// A replayer of `scenario` on the default executor.
    pub fn new(scenario: &'a GameScenario<G>) -> Self {
        Self {
            scenario,
            executor: ExecutorKind::default(),
        }
    }

    /// Chooses the executor; a correct game replays identically on every one.
    pub fn executor(mut self, executor: ExecutorKind) -> Self {
        self.executor = executor;
        self
    }

    /// Checks the scenario, builds the game, runs every tick and compares every checkpoint,
    /// stopping at the first divergence or crash.
    pub fn run(&self) -> Result<ReplayReport, ReplayError> {
        self.run_observed(|_| {}, |_| {})
    }

    /// [`run`](Self::run), with `prepare` called on the built engine before the first tick
    /// and `observe` after every tick that ran (its stats are [`Engine::stats`]).
    pub(super) fn run_observed(
        &self,
        prepare: impl FnOnce(&mut Engine),
        observe: impl FnMut(&mut Engine),
    ) -> Result<ReplayReport, ReplayError> {
        check_playable::<G>(self.scenario, "the scenario being replayed")?;
        let scenario = self.scenario;
        let setup = RunSetup {
            seed: scenario.seed,
            tick_rate: scenario.tick_rate,
            executor: self.executor,
        };
        // The live sender stays unused: the feed replaces its channel.
        let entities = scenario.recorded_entity_scheme();
        let (mut engine, _live_input) =
            build_game_numbering::<G>(&scenario.config, setup, entities)?;
        feed_inputs::<G>(&mut engine, &scenario.inputs);
        prepare(&mut engine);
        let mut hasher = state_hasher::<G>();
        hasher.hash_entities_as(entities);
        let mut run = Run {
            engine,
            hasher,
            checkpoints: &scenario.checkpoints,
            report: self.empty_report(),
        };
        let start = Instant::now();
        run.run(scenario.ticks, observe);
        run.report.elapsed = start.elapsed();
        run.report.executor = run.engine.executor_totals();
        let mut report = run.report;
        check_crash(&mut report, scenario.crash.as_ref());
        if report.divergence.is_some()
            && let Some(recorded) = &scenario.composition
        {
            let now = composition_of(&run.engine, &run.hasher);
            report.composition_changes = recorded.changes_to(&now);
        }
        Ok(report)
    }

    fn empty_report(&self) -> ReplayReport {
        ReplayReport {
            ticks_run: 0,
            ticks_total: self.scenario.ticks,
            elapsed: Duration::ZERO,
            checkpoints_verified: 0,
            checkpoints_total: self.scenario.checkpoints.len(),
            hashes: Vec::new(),
            crash: None,
            divergence: None,
            composition_changes: Vec::new(),
            executor: ExecutorTotals::default(),
        }
    }
}

/// A replay in progress.
struct Run<'a> {
    engine: Engine,
    hasher: StateHasher,
    checkpoints: &'a [Checkpoint],
    report: ReplayReport,
}

impl Run<'_> {
    /// Runs up to `ticks` ticks, verifying each checkpoint when its tick is reached.
    fn run(&mut self, ticks: u64, mut observe: impl FnMut(&mut Engine)) {
        loop {
            if !self.verify_due_checkpoint() || self.engine.tick_count() >= ticks {
                return;
            }
            let result = self.engine.tick().map(|_| ());
            self.report.ticks_run = self.engine.tick_count();
            if let Err(error) = result {
                self.report.crash = Some(error);
                return;
            }
            observe(&mut self.engine);
        }
    }

    /// Compares the checkpoint of the current tick, if there is one; false on a mismatch.
    fn verify_due_checkpoint(&mut self) -> bool {
        let tick = self.engine.tick_count();
        let Some(expected) = self.checkpoints.get(self.report.checkpoints_verified) else {
            return true;
        };
        if expected.tick != tick {
            return true;
        }
        let state = self.hasher.hash(self.engine.world());
        self.report.hashes.push((tick, state.total));
        if state.total == expected.hash && state.parts == expected.components {
            self.report.checkpoints_verified += 1;
            return true;
        }
        let last_verified = self.report.checkpoints_verified.checked_sub(1);
        self.report.divergence = Some(Divergence::State {
            tick,
            last_verified: last_verified.map(|index| self.checkpoints[index].tick),
            components: state.differing_parts(&expected.components),
            expected: expected.hash,
            found: state.total,
        });
        false
    }
}

/// Compares the replay's crash (if any) with the recorded one (if any).
fn check_crash(report: &mut ReplayReport, expected: Option<&RecordedCrash>) {
    if report.divergence.is_some() {
        return;
    }
    report.divergence = match (expected, &report.crash) {
        (None, None) => None,
        (None, Some(error)) => Some(Divergence::UnexpectedCrash(error.clone())),
        (Some(expected), Some(error)) if expected.matches(error) => None,
        (Some(expected), found) => Some(Divergence::CrashNotReproduced {
            expected: expected.clone(),
            found: found.clone(),
        }),
    };
}

//! Recording a run: the inputs as they are collected, checkpoints every K ticks, the crash
//! that ended it.

use std::{collections::BTreeMap, sync::mpsc};

use crate::{
    BuildError, Clock, Engine, EventSender, ExecutorKind, FixedStep, FrameReport, TickError,
};

use super::{
    Checkpoint, EntityScheme, FORMAT_VERSION, Game, GameScenario, RecordedCrash, RecordedValue,
    ReplayError, RunSetup, Scenario, SnapshotPolicy, Snapshots, StateHasher, TimeTravelError,
    TimedInput,
    composition::composition_of,
    game::{build_game, check_playable, feed_inputs, feed_inputs_from, state_hasher},
};

/// The default checkpoint interval of a recording, in ticks.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 60;

/// Sets up a [`Recorder`]: seed, tick rate, checkpoint interval, executor, snapshots.
pub struct RecorderBuilder<G: Game> {
    config: G::Config,
    setup: RunSetup,
    checkpoint_every: u64,
    checkpoint_values: bool,
    snapshots: Option<SnapshotPolicy>,
}

impl<G: Game> std::fmt::Debug for RecorderBuilder<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderBuilder")
            .field("game", &G::NAME)
            .field("setup", &self.setup)
            .field("checkpoint_every", &self.checkpoint_every)
            .finish_non_exhaustive()
    }
}

impl<G: Game> RecorderBuilder<G> {
    /// Sets the simulation seed (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.setup.seed = seed;
        self
    }

    /// Sets the tick rate (default [`DEFAULT_TICK_RATE`](crate::DEFAULT_TICK_RATE)).
    pub fn tick_rate(mut self, ticks_per_second: u32) -> Self {
        self.setup.tick_rate = ticks_per_second;
        self
    }

    /// Takes a checkpoint every `ticks` ticks (at least 1; 1 hashes every tick, which lets a
    /// replay name the exact tick of a divergence). One is always taken at the start and at
    /// the end.
    pub fn checkpoint_every(mut self, ticks: u64) -> Self {
        self.checkpoint_every = ticks.max(1);
        self
    }

    /// Chooses the executor (default: the parallel executor on all cores).
    pub fn executor(mut self, executor: ExecutorKind) -> Self {
        self.setup.executor = executor;
        self
    }

    /// Stores every value of every hashed type at each checkpoint (as `Debug` text), so that
    /// a replay that diverges names the entity and the values that differ, not only the
    /// type. Files grow with the state; combine with a sparse checkpoint interval.
    pub fn checkpoint_values(mut self, on: bool) -> Self {
        self.checkpoint_values = on;
        self
    }

    /// Keeps snapshots by `policy`, so that [`Recorder::rewind_to`] and
    /// [`Recorder::step_back`] can go back (live rewind, then a branch).
    pub fn snapshots(mut self, policy: SnapshotPolicy) -> Self {
        self.snapshots = Some(policy);
        self
    }

    /// Builds the game and starts recording (the checkpoint of tick 0 is taken here).
    pub fn build(self) -> Result<Recorder<G>, BuildError> {
        let (engine, input) = build_game::<G>(&self.config, self.setup)?;
        let mut scenario = self.empty_scenario();
        scenario.composition = Some(composition_of(&engine, &state_hasher::<G>()));
        let snapshots = self.snapshots.map(Snapshots::new);
        let mut recorder = Recorder::assemble(scenario, engine, input, snapshots, self.setup);
        recorder.checkpoint_every = self.checkpoint_every;
        recorder.checkpoint_values = self.checkpoint_values;
        recorder.checkpoint();
        recorder.keep_snapshot();
        Ok(recorder)
    }

    fn empty_scenario(&self) -> GameScenario<G> {
        Scenario {
            format_version: FORMAT_VERSION,
            game: G::NAME.to_owned(),
            seed: self.setup.seed,
            tick_rate: self.setup.tick_rate,
            ticks: 0,
            config: self.config.clone(),
            inputs: Vec::new(),
            checkpoints: Vec::new(),
            crash: None,
            composition: None,
            branched_from: None,
            entity_scheme: EntityScheme::Current,
        }
    }
}

/// Runs a game and records it as a [`Scenario`].
///
/// Send live inputs through [`input`](Self::input); every event the engine collects is
/// recorded with its tick. A checkpoint is taken every K ticks and by
/// [`scenario`](Self::scenario) at the end. When a system panics, [`tick`](Self::tick)
/// returns the [`TickError`] (system and tick) and the recording ends there:
/// [`scenario`](Self::scenario) then holds every tick up to and including the crashed one,
/// and replaying it reproduces the crash.
pub struct Recorder<G: Game> {
    engine: Engine,
    input: EventSender<G::Input>,
    hasher: StateHasher,
    taps: mpsc::Receiver<(u64, Vec<G::Input>)>,
    scenario: GameScenario<G>,
    checkpoint_every: u64,
    checkpoint_values: bool,
    crash: Option<TickError>,
    snapshots: Option<Snapshots>,
    setup: RunSetup,
    /// A rewind failed part way ([`TimeTravelError::Broken`]).
    broken: bool,
}

impl<G: Game> std::fmt::Debug for Recorder<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("game", &G::NAME)
            .field("engine", &self.engine)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("crash", &self.crash)
            .finish_non_exhaustive()
    }
}

impl<G: Game> Recorder<G> {
    /// Starts setting up a recording of `G` with `config`.
    pub fn builder(config: G::Config) -> RecorderBuilder<G> {
        RecorderBuilder {
            config,
            setup: RunSetup {
                seed: 0,
                tick_rate: crate::DEFAULT_TICK_RATE,
                executor: ExecutorKind::default(),
            },
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            checkpoint_values: false,
            snapshots: None,
        }
    }

    /// A recorder of `engine` (built by [`build_game`]) that continues `scenario` (its ticks
    /// so far), without a checkpoint of its own yet.
    fn assemble(
        scenario: GameScenario<G>,
        mut engine: Engine,
        input: EventSender<G::Input>,
        snapshots: Option<Snapshots>,
        setup: RunSetup,
    ) -> Self {
        let (tap_tx, taps) = mpsc::channel();
        if let Some(source) = engine.source_mut::<G::Input>() {
            source.clear_feed();
            source.set_tap(Box::new(move |tick, events: &[G::Input]| {
                if !events.is_empty() {
                    // The receiver lives as long as the recorder, which owns the engine.
                    let _ = tap_tx.send((tick, events.to_vec()));
                }
            }));
        }
        Recorder {
            scenario,
            engine,
            input,
            hasher: state_hasher::<G>(),
            taps,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            checkpoint_values: false,
            crash: None,
            snapshots,
            setup,
            broken: false,
        }
    }

    /// Continues a replayed scenario live (a [`Timeline`](super::Timeline) branch): `prefix`
    /// holds its ticks so far, `engine` is at its end.
    pub(crate) fn resume(
        prefix: GameScenario<G>,
        engine: Engine,
        input: EventSender<G::Input>,
        snapshots: Snapshots,
        setup: RunSetup,
    ) -> Self {
        let mut recorder = Self::assemble(prefix, engine, input, Some(snapshots), setup);
        let every = recorder
            .scenario
            .checkpoints
            .windows(2)
            .map(|w| w[1].tick - w[0].tick)
            .min();
        recorder.checkpoint_every = every.unwrap_or(DEFAULT_CHECKPOINT_EVERY).max(1);
        let tick = recorder.engine.tick_count();
        if recorder.scenario.checkpoints.last().map(|c| c.tick) != Some(tick) {
            recorder.checkpoint();
        }
        recorder
    }

    /// A sender for live inputs (cloneable, usable from any thread).
    pub fn input(&self) -> EventSender<G::Input> {
        self.input.clone()
    }

    /// The engine being recorded (to read the world between ticks).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The crash that ended the recording, if one did.
    pub fn crash(&self) -> Option<&TickError> {
        self.crash.as_ref()
    }

    /// Runs and records one tick. After a crash nothing runs any more: the crash's error is
    /// returned again, so the recording stays a faithful reproduction.
    pub fn tick(&mut self) -> Result<(), TickError> {
        if let Some(crash) = &self.crash {
            return Err(crash.clone());
        }
        let result = self.engine.tick().map(|_| ());
        self.take_inputs();
        self.scenario.ticks = self.engine.tick_count();
        match result {
            Ok(()) => {
                if self.scenario.ticks.is_multiple_of(self.checkpoint_every) {
                    self.checkpoint();
                }
                self.keep_snapshot();
            }
            Err(error) => {
                self.scenario.crash = Some(RecordedCrash::from(&error));
                self.crash = Some(error.clone());
                return Err(error);
            }
        }
        Ok(())
    }

    /// Runs and records `ticks` ticks, stopping at the first crash.
    pub fn run_ticks(&mut self, ticks: u64) -> Result<(), TickError> {
        (0..ticks).try_for_each(|_| self.tick())
    }

    /// Runs one real-time frame, as [`Engine::frame`] does, recording its ticks: the time
    /// since the last frame (scaled, clamped) becomes whole ticks. The first frame only
    /// starts the clock. Which tick an input lands in depends on timing; the recording
    /// stamps it with that tick, so the replay is exact anyway.
    pub fn frame(&mut self, clock: &impl Clock) -> Result<FrameReport, TickError> {
        let plan = self.engine.begin_frame(clock);
        for _ in 0..plan.ticks {
            self.tick()?;
        }
        Ok(self.engine.frame_report(plan))
    }

    /// Goes back to tick `tick` of this recording (from the nearest snapshot, re-running the
    /// recorded inputs up to it) and forgets everything after it: the recording continues
    /// from there with whatever is sent next, so it becomes a branch. Needs
    /// [`RecorderBuilder::snapshots`]. A tick after the current one is refused
    /// ([`TimeTravelError::PastEnd`]): the recording has no inputs for it yet. As after any
    /// restore, `Changed`/`Added` filters see every restored value as new in the next tick
    /// (see [`Timeline`](super::Timeline)).
    ///
    /// A restore that fails after it began to change the world leaves the engine part
    /// restored: later rewinds are refused ([`TimeTravelError::Broken`]) and what is recorded
    /// from then on is unreliable, so drop the recorder.
    pub fn rewind_to(&mut self, tick: u64) -> Result<(), TimeTravelError> {
        if self.broken {
            return Err(TimeTravelError::Broken);
        }
        let Some(snapshots) = &self.snapshots else {
            return Err(TimeTravelError::NotRewindable);
        };
        let end = self.engine.tick_count();
        if tick > end {
            return Err(TimeTravelError::PastEnd { tick, end });
        }
        let Some(snapshot) = snapshots.at_or_before(tick) else {
            let error = super::SnapshotError::NoneBefore { tick };
            return Err(TimeTravelError::Snapshot(error));
        };
        if let Err(failed) = snapshot.restore_telling(&mut self.engine, &self.hasher) {
            self.broken = failed.changed;
            return Err(failed.error.into());
        }
        let from = self.engine.tick_count();
        feed_inputs_from::<G>(&mut self.engine, &self.scenario.inputs, from);
        let replayed = self.engine.run_ticks(tick - from);
        // Inputs collected while re-running are in the recording already.
        self.taps.try_iter().for_each(drop);
        if let Some(source) = self.engine.source_mut::<G::Input>() {
            source.clear_feed();
        }
        replayed?;
        self.scenario.truncate(tick);
        self.crash = None;
        if let Some(snapshots) = &mut self.snapshots {
            snapshots.forget_after(tick);
        }
        Ok(())
    }

    /// Goes back one tick (see [`rewind_to`](Self::rewind_to)).
    pub fn step_back(&mut self) -> Result<(), TimeTravelError> {
        match self.engine.tick_count().checked_sub(1) {
            Some(tick) => self.rewind_to(tick),
            None => Err(TimeTravelError::AtStart),
        }
    }

    /// The snapshots kept for rewinding, if enabled.
    pub fn snapshots(&self) -> Option<&Snapshots> {
        self.snapshots.as_ref()
    }

    /// The run's setup (seed, tick rate, executor).
    pub fn setup(&self) -> RunSetup {
        self.setup
    }

    /// The fixed-step accumulator of real-time recording: pause, resume, step, time scale.
    pub fn fixed_step_mut(&mut self) -> &mut FixedStep {
        self.engine.fixed_step_mut()
    }

    /// Runs `scenario` again on this build, fed its recorded inputs, and records it with a
    /// checkpoint every `checkpoint_every` ticks. With 1, on a build that still verifies the
    /// scenario, this gives per-tick hashes: replaying those on a build that diverges names
    /// the exact tick.
    ///
    /// It records what this build does with the inputs and does not check that against the
    /// old recording: replay `scenario` first ([`Replayer`](super::Replayer)) to know that
    /// the new file records the same run (a version-1 file of a game that draws from
    /// [`SimRng`](super::SimRng) or uses timers, for one, runs differently on this build).
    pub fn rerecord(
        scenario: &GameScenario<G>,
        checkpoint_every: u64,
        executor: ExecutorKind,
    ) -> Result<GameScenario<G>, ReplayError> {
        check_playable::<G>(scenario, "the scenario being re-recorded")?;
        let mut recorder = Recorder::<G>::builder(scenario.config.clone())
            .seed(scenario.seed)
            .tick_rate(scenario.tick_rate)
            .checkpoint_every(checkpoint_every)
            .executor(executor)
            .build()?;
        feed_inputs::<G>(&mut recorder.engine, &scenario.inputs);
        // A crash ends the run here as it did in the original; the copy records it too.
        let _ = recorder.run_ticks(scenario.ticks);
        Ok(recorder.scenario())
    }

    /// The recording so far as a scenario, with a final checkpoint of the current state
    /// unless the run crashed (the state after a crashed tick depends on which systems were
    /// still running, so it is not part of what a replay must reproduce).
    pub fn scenario(&self) -> GameScenario<G> {
        let mut scenario = self.scenario.clone();
        let last = scenario
            .checkpoints
            .last()
            .map(|checkpoint| checkpoint.tick);
        if self.crash.is_none() && last != Some(scenario.ticks) {
            let state = self.hasher.hash(self.engine.world());
            scenario
                .checkpoints
                .push(Checkpoint::new(scenario.ticks, state));
        }
        scenario
    }

    fn take_inputs(&mut self) {
        for (tick, events) in self.taps.try_iter() {
            let timed = events.into_iter().map(|event| TimedInput { tick, event });
            self.scenario.inputs.extend(timed);
        }
    }

    fn checkpoint(&mut self) {
        let state = self.hasher.hash(self.engine.world());
        let tick = self.engine.tick_count();
        let mut checkpoint = Checkpoint::new(tick, state);
        if self.checkpoint_values {
            checkpoint.values = self.values().ok();
        }
        self.scenario.checkpoints.push(checkpoint);
    }

    /// Every value of every hashed type, for a checkpoint with values.
    fn values(&mut self) -> Result<BTreeMap<String, Vec<RecordedValue>>, super::SnapshotError> {
        let snapshot = super::Snapshot::capture(&mut self.engine, &self.hasher)?;
        Ok(recorded_values(&snapshot, &self.hasher))
    }

    fn keep_snapshot(&mut self) {
        if let Some(snapshots) = &mut self.snapshots {
            // A recording goes on without its snapshots; rewinding then reports none.
            let _ = snapshots.capture_if_due(&mut self.engine, &self.hasher);
        }
    }
}

/// The values of every hashed type of `snapshot`, as a checkpoint stores them.
pub(crate) fn recorded_values(
    snapshot: &super::Snapshot,
    state: &StateHasher,
) -> BTreeMap<String, Vec<RecordedValue>> {
    let hashed = state.hash_names();
    snapshot
        .parts()
        .filter(|(name, _)| hashed.contains(name))
        .map(|(name, _)| {
            let values = snapshot
                .values(name)
                .into_iter()
                .map(|value| RecordedValue {
                    entity: value.entity.map(|e| e.index_u32()),
                    value: value.debug,
                });
            (name.to_owned(), values.collect())
        })
        .collect()
}

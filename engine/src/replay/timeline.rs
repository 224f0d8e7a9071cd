//! Time travel in a recorded scenario: seek to any tick, step back, look at the world, and
//! branch off with other inputs.

use bevy_ecs::world::World;

use super::{
    Game, GameScenario, Recorder, ReplayError, RunSetup, Snapshot, SnapshotError, SnapshotPolicy,
    Snapshots, StateHash, StateHasher,
    game::{build_game, check_playable, feed_inputs_from, state_hasher},
    replayer::check_rewindable,
};
use crate::{Engine, EventSender, ExecutorKind, TickError};

/// Why a seek, a step or a branch did not get where it was asked to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimeTravelError {
    /// A system failed in a tick on the way.
    #[error(transparent)]
    Tick(#[from] TickError),
    /// A snapshot could not be taken or restored.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The tick lies beyond the end of the scenario.
    #[error("tick {tick} is beyond the end of the scenario ({end} ticks)")]
    PastEnd {
        /// The tick asked for.
        tick: u64,
        /// The scenario's tick count.
        end: u64,
    },
    /// There is no tick before tick 0.
    #[error("already at tick 0")]
    AtStart,
    /// The recorder keeps no snapshots (see `RecorderBuilder::snapshots`).
    #[error("this recorder keeps no snapshots, so it cannot go back")]
    NotRewindable,
    /// An earlier restore failed after it had begun to change the world (an id taken by a
    /// resource the restore inserted, an allocator that did not read back): the world is
    /// neither the old one nor the snapshot's, so the timeline refuses to go on. Open the
    /// scenario again.
    #[error("an earlier restore failed part way and left the world unreliable; open it again")]
    Broken,
}

/// A scenario opened for time travel: its game replayed headless, with a snapshot kept every
/// K ticks ([`SnapshotPolicy`]), so that [`seek`](Self::seek) to any tick costs one restore
/// plus at most K ticks, forwards or backwards.
///
/// Change ticks are not part of a snapshot: in the first tick after a restore, `Changed<T>`
/// and `Added<T>` see every restored value as new, where a straight run sees only the last
/// tick's changes. Simulation logic that must replay the same keeps explicit state (a
/// registered flag or counter, or an event) instead of relying on change detection (see
/// DETERMINISM.md).
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::replay::*;
/// # struct Counter;
/// # #[derive(Resource, Default, Clone, Debug)] struct Total(u64);
/// # tickbus::impl_stable_hash!(Total { 0 });
/// # fn add(inputs: EventReader<u64>, mut rng: SimRng, mut total: ResMut<Total>) {
/// #     total.0 += inputs.iter().sum::<u64>() + u64::from(rng.below(3));
/// # }
/// # impl Game for Counter {
/// #     const NAME: &'static str = "counter";
/// #     type Config = ();
/// #     type Input = u64;
/// #     fn build(_: &(), app: &mut App) { app.init_resource::<Total>().add_systems(add); }
/// #     fn register_state(state: &mut StateHasher) { state.resource::<Total>(); }
/// # }
/// let mut recorder = Recorder::<Counter>::builder(()).build()?;
/// recorder.input().send(5)?;
/// recorder.run_ticks(500)?;
/// let scenario = recorder.scenario();
///
/// let mut timeline = Timeline::<Counter>::open(&scenario, ExecutorKind::Sequential)?;
/// timeline.seek(300)?;
/// let at_300 = timeline.world().resource::<Total>().0;
/// timeline.seek(450)?;
/// timeline.seek(300)?; // back: one restore, then at most 60 ticks
/// assert_eq!(timeline.world().resource::<Total>().0, at_300);
/// timeline.step_back()?;
/// assert_eq!(timeline.tick(), 299);
///
/// // Another future from tick 299, recorded as a scenario of its own.
/// let mut branch = timeline.branch();
/// branch.input().send(1000)?;
/// branch.run_ticks(10)?;
/// let forked = branch.scenario();
/// assert_eq!(forked.branched_from.as_ref().map(|b| b.tick), Some(299));
/// let report = Replayer::<Counter>::new(&forked).run()?;
/// assert!(report.is_verified(), "{report}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Timeline<G: Game> {
    scenario: GameScenario<G>,
    setup: RunSetup,
    engine: Engine,
    input: EventSender<G::Input>,
    state: StateHasher,
    snapshots: Snapshots,
    /// A restore failed part way ([`TimeTravelError::Broken`]).
    broken: bool,
}

impl<G: Game> std::fmt::Debug for Timeline<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("game", &G::NAME)
            .field("tick", &self.engine.tick_count())
            .field("ticks", &self.scenario.ticks)
            .field("snapshots", &self.snapshots)
            .finish_non_exhaustive()
    }
}

impl<G: Game> Timeline<G> {
    /// Opens `scenario` at tick 0 with the default [`SnapshotPolicy`].
    pub fn open(scenario: &GameScenario<G>, executor: ExecutorKind) -> Result<Self, ReplayError> {
        Self::open_with(scenario, executor, SnapshotPolicy::default())
    }

    /// Opens `scenario` at tick 0, keeping snapshots by `policy`.
    pub fn open_with(
        scenario: &GameScenario<G>,
        executor: ExecutorKind,
        policy: SnapshotPolicy,
    ) -> Result<Self, ReplayError> {
        check_playable::<G>(scenario, "the scenario being opened")?;
        check_rewindable(scenario)?;
        let setup = RunSetup {
            seed: scenario.seed,
            tick_rate: scenario.tick_rate,
            executor,
        };
        let (mut engine, input) = build_game::<G>(&scenario.config, setup)?;
        feed_inputs_from::<G>(&mut engine, &scenario.inputs, 0);
        let state = state_hasher::<G>();
        let mut snapshots = Snapshots::new(policy);
        snapshots
            .capture_if_due(&mut engine, &state)
            .map_err(ReplayError::Snapshot)?;
        Ok(Self {
            scenario: scenario.clone(),
            setup,
            engine,
            input,
            state,
            snapshots,
            broken: false,
        })
    }

    /// The current tick: ticks run (the tick that runs next).
    pub fn tick(&self) -> u64 {
        self.engine.tick_count()
    }

    /// The scenario's tick count: the last tick [`seek`](Self::seek) reaches.
    pub fn end(&self) -> u64 {
        self.scenario.ticks
    }

    /// The world at the current tick.
    pub fn world(&self) -> &World {
        self.engine.world()
    }

    /// The engine (the world, stats, the schedule's plan).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The registered state of the game (what snapshots and hashes cover).
    pub fn state(&self) -> &StateHasher {
        &self.state
    }

    /// The state hash of the current tick.
    pub fn hash(&self) -> StateHash {
        self.state.hash(self.engine.world())
    }

    /// The snapshots kept so far.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// A snapshot of the current tick (for [`Snapshot::to_ron`] or a [`Snapshot::diff`]).
    pub fn snapshot(&mut self) -> Result<Snapshot, SnapshotError> {
        Snapshot::capture(&mut self.engine, &self.state)
    }

    /// Runs one tick forward, with the scenario's inputs of that tick.
    pub fn step(&mut self) -> Result<(), TimeTravelError> {
        self.refuse_if_broken()?;
        let tick = self.tick();
        if tick >= self.end() {
            let end = self.end();
            return Err(TimeTravelError::PastEnd {
                tick: tick + 1,
                end,
            });
        }
        self.engine.tick()?;
        self.snapshots
            .capture_if_due(&mut self.engine, &self.state)?;
        Ok(())
    }

    /// Goes to `tick` (0 to [`end`](Self::end)): from the nearest snapshot at or before it
    /// (unless running on from the current tick is shorter), then tick by tick.
    pub fn seek(&mut self, tick: u64) -> Result<(), TimeTravelError> {
        self.refuse_if_broken()?;
        if tick > self.end() {
            let end = self.end();
            return Err(TimeTravelError::PastEnd { tick, end });
        }
        let current = self.tick();
        let nearest = self.snapshots.at_or_before(tick).map(Snapshot::tick);
        let restore = tick < current || nearest.is_some_and(|from| from > current);
        if restore {
            self.restore_nearest(tick)?;
        }
        while self.tick() < tick {
            self.step()?;
        }
        Ok(())
    }

    /// Goes back one tick.
    pub fn step_back(&mut self) -> Result<(), TimeTravelError> {
        match self.tick().checked_sub(1) {
            Some(tick) => self.seek(tick),
            None => Err(TimeTravelError::AtStart),
        }
    }

    /// Continues from the current tick with other inputs, as a recording: the scenario up to
    /// here (its inputs before this tick, its checkpoints up to it) followed by what the
    /// returned [`Recorder`] records. Its scenario replays from tick 0 like any other and
    /// names the tick it [branched from](super::Scenario::branched_from).
    pub fn branch(self) -> Recorder<G> {
        let tick = self.tick();
        let mut prefix = self.scenario.clone();
        prefix.truncate(tick);
        prefix.branched_from = Some(super::BranchPoint {
            tick,
            hash: self.state.hash(self.engine.world()).total,
        });
        Recorder::resume(prefix, self.engine, self.input, self.snapshots, self.setup)
    }

    fn restore_nearest(&mut self, tick: u64) -> Result<(), TimeTravelError> {
        let Some(snapshot) = self.snapshots.at_or_before(tick) else {
            return Err(TimeTravelError::Snapshot(SnapshotError::NoneBefore {
                tick,
            }));
        };
        if let Err(failed) = snapshot.restore_telling(&mut self.engine, &self.state) {
            self.broken = failed.changed;
            return Err(failed.error.into());
        }
        let from = self.engine.tick_count();
        feed_inputs_from::<G>(&mut self.engine, &self.scenario.inputs, from);
        Ok(())
    }

    fn refuse_if_broken(&self) -> Result<(), TimeTravelError> {
        match self.broken {
            true => Err(TimeTravelError::Broken),
            false => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use crate::replay::Replayer;

    /// Spawns one entity per tick and inserts a registered resource at tick 1: a restore
    /// into an engine without it inserts it, at an index the captured entities need.
    struct Lazy;

    #[derive(Component, Clone, Debug)]
    struct Serial(u64);
    crate::impl_stable_hash!(Serial { 0 });

    #[derive(Resource, Clone, Debug)]
    struct Bonus(u64);
    crate::impl_stable_hash!(Bonus { 0 });

    fn spawn_one(mut commands: Commands, time: Res<SimTime>) {
        commands.spawn(Serial(time.tick()));
        if time.tick() == 1 {
            commands.insert_resource(Bonus(3));
        }
    }

    impl Game for Lazy {
        const NAME: &'static str = "lazy";
        type Config = ();
        type Input = u32;
        fn build(_: &(), app: &mut App) {
            app.add_systems(spawn_one.in_set(Spawners));
        }
        fn register_state(state: &mut StateHasher) {
            state.resource::<Bonus>().component::<Serial>();
        }
    }

    #[test]
    fn a_restore_that_fails_part_way_breaks_the_timeline() {
        let mut recorder = Recorder::<Lazy>::builder(()).build().unwrap();
        recorder.run_ticks(60).unwrap();
        let scenario = recorder.scenario();
        // The same run, replayed: its tick-60 snapshot, foreign to the timeline below.
        let setup = RunSetup {
            seed: scenario.seed,
            tick_rate: scenario.tick_rate,
            executor: ExecutorKind::Sequential,
        };
        let (mut other, _input) = build_game::<Lazy>(&(), setup).unwrap();
        other.run_ticks(60).unwrap();
        let foreign = Snapshot::capture(&mut other, &state_hasher::<Lazy>()).unwrap();
        assert!(
            Replayer::<Lazy>::new(&scenario)
                .run()
                .unwrap()
                .is_verified()
        );
        let policy = SnapshotPolicy::every(1000);
        let mut timeline =
            Timeline::<Lazy>::open_with(&scenario, ExecutorKind::Sequential, policy).unwrap();
        timeline.snapshots.insert(foreign);
        let failed = timeline.seek(60);
        assert!(
            matches!(
                failed,
                Err(TimeTravelError::Snapshot(SnapshotError::EntityTaken { .. }))
            ),
            "{failed:?}"
        );
        assert!(matches!(timeline.step(), Err(TimeTravelError::Broken)));
        assert!(matches!(timeline.seek(0), Err(TimeTravelError::Broken)));
    }
}

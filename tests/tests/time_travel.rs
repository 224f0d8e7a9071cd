//! Time travel across crates: snapshot round trips for every registered type, restore and
//! continue on every executor, the verify mode catching state kept in a `Local`, the bisect
//! naming tick, entity and values of an injected fault, and version-1 files loading and
//! verifying.

use std::path::PathBuf;

use proptest::prelude::*;
use tickbus::{
    ExecutorKind,
    bevy_ecs::{
        entity::{EntityMapper, MapEntities},
        prelude::{Add, Observer, On},
    },
    prelude::*,
    replay::{
        EntityScheme, FORMAT_VERSION, FailedRun, Game, GameScenario, Pinned, Recorder, ReplayError,
        Replayer, RestoreCheck, RunSetup, Scenario, Snapshot, SnapshotError, SnapshotPolicy,
        StateHasher, TimeTravelError, Timeline, bisect, bisect_against, build_game, state_hasher,
        verify_restore,
    },
};
use tickbus_tests::{
    particles::{OFF_BY_ONE_TICK, ParticleInput, Particles, ParticlesConfig, ParticlesOffByOne},
    scenario_support::{GoldenParticles, executors, scenarios_dir},
};

fn golden() -> GameScenario<Particles> {
    let path = scenarios_dir().join(GoldenParticles::FILE);
    Scenario::load::<Particles>(&path).expect("the golden scenario loads")
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/v1")
        .join(name)
}

#[test]
fn restoring_and_running_on_equals_the_uninterrupted_run_on_every_executor() {
    // The first 1,200 ticks (spawns, expiries, bursts; the suite stays quick in debug builds).
    let mut scenario = golden();
    scenario.truncate(1200);
    for executor in executors() {
        let check = verify_restore::<Particles>(&scenario, executor, 150).unwrap();
        assert!(check.is_ok(), "{executor:?}: {check}");
        assert_eq!(check.ticks_compared, scenario.ticks, "{executor:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every registered type of the particle game survives a snapshot: after running on
    /// (spawning, despawning, changing everything) and restoring, the world holds exactly the
    /// captured values, and running on gives the same hashes as the first time.
    #[test]
    fn a_snapshot_round_trips_every_registered_type(
        seed in any::<u64>(),
        before in 1u64..150,
        after in 1u64..150,
        bursts in prop::collection::vec((0u64..300, 1u32..40), 0..6),
    ) {
        let config = ParticlesConfig { emit_every: 3, ..ParticlesConfig::default() };
        let setup = RunSetup { seed, tick_rate: 60, executor: ExecutorKind::Sequential };
        let (mut engine, input) = build_game::<Particles>(&config, setup).unwrap();
        let state = state_hasher::<Particles>();
        let send = |engine: &Engine, count: u32| {
            let burst = ParticleInput::Burst { at: glam::Vec2::new(1.0, 2.0), count };
            input.send(burst).unwrap();
            engine.tick_count()
        };
        let run = |engine: &mut Engine, ticks: u64| {
            for _ in 0..ticks {
                for (at, count) in &bursts {
                    if *at == engine.tick_count() {
                        send(engine, *count);
                    }
                }
                engine.tick().unwrap();
            }
        };
        run(&mut engine, before);
        let snapshot = Snapshot::capture(&mut engine, &state).unwrap();
        prop_assert!(snapshot.uncaptured().is_empty(), "{:?}", snapshot.uncaptured());
        let captured = state.hash(engine.world());
        run(&mut engine, after);
        let straight = state.hash(engine.world());
        snapshot.restore(&mut engine, &state).unwrap();
        prop_assert_eq!(engine.tick_count(), snapshot.tick());
        prop_assert_eq!(state.hash(engine.world()), captured);
        let again = Snapshot::capture(&mut engine, &state).unwrap();
        prop_assert!(snapshot.diff(&again).is_empty(), "{:?}", snapshot.diff(&again));
        run(&mut engine, after);
        prop_assert_eq!(state.hash(engine.world()), straight);
    }
}

/// A game that keeps its simulation state in a system's `Local`.
struct LocalCounter;

#[derive(Resource, Default, Clone, Debug)]
struct Total(u64);
tickbus::impl_stable_hash!(Total { 0 });

fn add_in_a_local(inputs: EventReader<u32>, mut seen: Local<u64>, mut total: ResMut<Total>) {
    *seen += 1 + inputs.iter().map(|&x| u64::from(x)).sum::<u64>();
    total.0 += *seen;
}

impl Game for LocalCounter {
    const NAME: &'static str = "local-counter";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.init_resource::<Total>().add_systems(add_in_a_local);
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<Total>();
    }
}

#[test]
fn a_game_with_state_in_a_local_is_caught_by_the_verify_mode() {
    let mut recorder = Recorder::<LocalCounter>::builder(()).build().unwrap();
    recorder.input().send(3).unwrap();
    recorder.run_ticks(200).unwrap();
    let scenario = recorder.scenario();
    // The game replays (the same code runs from tick 0) ...
    assert!(
        Replayer::<LocalCounter>::new(&scenario)
            .run()
            .unwrap()
            .is_verified()
    );
    // ... but a snapshot cannot hold its state.
    let check = verify_restore::<LocalCounter>(&scenario, ExecutorKind::Sequential, 50).unwrap();
    let mismatch = check.mismatch.clone().expect("the Local is caught");
    assert_eq!(mismatch.parts, ["Total"]);
    assert_eq!(mismatch.snapshot_tick, 0);
    assert_eq!(mismatch.tick, 1, "the first tick after the restore");
    let text = check.to_string();
    assert!(text.contains("Local"), "{text}");
    assert!(text.contains("after tick 1 in Total"), "{text}");
    assert_eq!(mismatch.values.len(), 1);
    let value = &mismatch.values[0];
    assert_eq!(value.expected.as_deref(), Some("Total(4)"), "3 sent plus 1");
    assert_ne!(value.found, value.expected);
}

#[test]
fn the_bisect_names_the_tick_entity_and_values_of_an_injected_fault() {
    let scenario = golden();
    let report = bisect_against::<ParticlesOffByOne, Particles>(
        &scenario,
        ExecutorKind::parallel(2),
        ExecutorKind::Sequential,
    )
    .unwrap()
    .expect("the faulty build diverges");
    assert_eq!(report.last_good, Some(OFF_BY_ONE_TICK));
    assert_eq!(
        report.first_bad,
        OFF_BY_ONE_TICK + GoldenParticles::CHECKPOINT_EVERY
    );
    // The fault is in tick 500: the state after it (tick count 501) differs.
    assert_eq!(report.tick, Some(OFF_BY_ONE_TICK + 1));
    assert_eq!(report.parts, ["Bounces"]);
    assert!(matches!(report.pinned, Pinned::Reference(_)));
    assert_eq!(report.values.len(), 1, "{report}");
    let value = &report.values[0];
    let entity = value.entity.expect("a component of one entity");
    // The fault hits the particle with the highest index alive when `bounce` runs in that
    // tick (emitted earlier in the same tick, so look after it).
    let mut timeline =
        tickbus::replay::Timeline::<Particles>::open(&scenario, ExecutorKind::Sequential).unwrap();
    timeline.seek(OFF_BY_ONE_TICK + 1).unwrap();
    let snapshot = timeline.snapshot().unwrap();
    let newest = snapshot
        .values("Bounces")
        .last()
        .cloned()
        .expect("particles");
    assert_eq!(
        newest.entity.map(|e| e.index_u32()),
        Some(entity.index_u32())
    );
    let expected: u32 = parse_bounces(value.expected.as_deref().unwrap());
    let found: u32 = parse_bounces(value.found.as_deref().unwrap());
    assert_eq!(found, expected + 1, "{report}");
    assert!(
        report
            .to_string()
            .contains(&format!("Bounces of entity {}", entity.index_u32()))
    );
}

fn parse_bounces(text: &str) -> u32 {
    text.trim_start_matches("Bounces(")
        .trim_end_matches(')')
        .parse()
        .unwrap_or_else(|_| panic!("not a Bounces value: {text}"))
}

#[test]
fn a_recording_with_values_names_entity_and_values_from_the_checkpoints_alone() {
    let inputs = tickbus_tests::scenario_support::random_inputs(7, 700, 40);
    let mut recorder = Recorder::<Particles>::builder(ParticlesConfig::default())
        .seed(GoldenParticles::SEED)
        .checkpoint_every(100)
        .checkpoint_values(true)
        .executor(ExecutorKind::Sequential)
        .build()
        .unwrap();
    for tick in 0..700 {
        for input in inputs.iter().filter(|input| input.tick == tick) {
            recorder.input().send(input.event).unwrap();
        }
        recorder.tick().unwrap();
    }
    let scenario = recorder.scenario();
    assert!(scenario.checkpoints.iter().all(|c| c.values.is_some()));
    let text = scenario.to_ron().unwrap();
    let scenario = Scenario::parse::<ParticlesOffByOne>(&text, "values.ron").unwrap();
    let report = bisect::<ParticlesOffByOne>(&scenario, ExecutorKind::Sequential)
        .unwrap()
        .expect("it diverges");
    assert_eq!(report.first_bad, 600);
    assert_eq!(report.parts, ["Bounces"]);
    assert_eq!(report.values.len(), 1, "{report}");
    assert!(report.values[0].entity.is_some());
    // Both builds of this one binary agree from the last good checkpoint: the report says
    // where the difference must be and how to pin it.
    assert_eq!(report.tick, None, "{report}");
    assert!(
        report
            .advice
            .as_deref()
            .unwrap_or("")
            .contains("checkpoint_every(1)")
    );
}

#[test]
fn version_1_files_load_and_are_migrated() {
    let particles = Scenario::load::<Particles>(fixture("particles.ron")).unwrap();
    assert_eq!(particles.format_version, FORMAT_VERSION);
    assert_eq!(particles.ticks, 3000);
    assert_eq!(
        (
            particles.composition.as_ref(),
            particles.branched_from.as_ref()
        ),
        (None, None)
    );
    let text = std::fs::read_to_string(fixture("particles.ron")).unwrap();
    assert!(
        text.contains("format_version: 1,"),
        "the fixture is a version-1 file"
    );
    // Random streams changed since, so it diverges, and the report cannot blame the app's
    // composition: a version-1 file does not record it.
    let report = Replayer::<Particles>::new(&particles).run().unwrap();
    assert!(report.divergence.is_some());
    assert!(report.composition_changes.is_empty());
    // Written back, it is a version-2 file.
    assert!(particles.to_ron().unwrap().contains("format_version: 2,"));
}

/// A game whose state and hashing did not change since format version 1.
struct Tally;

#[derive(Resource, Default, Clone, Debug)]
struct Sum(u64);
tickbus::impl_stable_hash!(Sum { 0 });

fn tally(inputs: EventReader<u32>, mut sum: ResMut<Sum>) {
    sum.0 += inputs.iter().map(|&x| u64::from(x)).sum::<u64>();
}

impl Game for Tally {
    const NAME: &'static str = "tally";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.init_resource::<Sum>().add_systems(tally);
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<Sum>();
    }
}

#[test]
fn a_version_1_file_of_an_unchanged_game_still_verifies() {
    let scenario = Scenario::load::<Tally>(fixture("tally.ron")).unwrap();
    let text = std::fs::read_to_string(fixture("tally.ron")).unwrap();
    assert!(text.contains("format_version: 1,"));
    let report = Replayer::<Tally>::new(&scenario).run().unwrap();
    assert!(report.is_verified(), "{report}");
    assert_eq!(report.checkpoints_verified, 4);
}

/// A resource nothing in the simulation reads, as a logger or a debug overlay would add.
#[derive(Resource, Default)]
struct Overlay;

/// `G` in an app with one more resource, inserted before the game is built.
struct WithOverlay<G>(std::marker::PhantomData<G>);

impl<G: Game> Game for WithOverlay<G> {
    const NAME: &'static str = G::NAME;
    type Config = G::Config;
    type Input = G::Input;
    fn build(config: &G::Config, app: &mut App) {
        app.init_resource::<Overlay>();
        G::build(config, app);
    }
    fn register_state(state: &mut StateHasher) {
        G::register_state(state);
    }
}

#[test]
fn the_particle_game_replays_its_recording_in_an_app_with_one_more_resource() {
    // Its random draws, despawns and sums go in entity order, never in storage order.
    let mut scenario = golden();
    scenario.truncate(1200);
    let report = Replayer::<WithOverlay<Particles>>::new(&scenario)
        .executor(ExecutorKind::parallel(2))
        .run()
        .unwrap();
    assert!(report.is_verified(), "{report}");
}

/// A game that keeps an entity id in its state: the id of the marker it spawns at start.
struct Marker;

#[derive(Component, Clone, Debug)]
struct Flag(u8);
tickbus::impl_stable_hash!(Flag { 0 });

#[derive(Resource, Clone, Debug)]
struct Planted(Option<Entity>);
tickbus::impl_stable_hash!(Planted { 0 });

fn plant(mut commands: Commands, mut planted: ResMut<Planted>) {
    if planted.0.is_none() {
        planted.0 = Some(commands.spawn(Flag(1)).id());
    }
}

impl Game for Marker {
    const NAME: &'static str = "marker";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.insert_resource(Planted(None)).add_systems(plant);
    }
    fn register_state(state: &mut StateHasher) {
        state.component::<Flag>().resource::<Planted>();
    }
}

#[test]
fn a_divergence_after_a_composition_change_names_the_change() {
    let mut recorder = Recorder::<Marker>::builder(()).build().unwrap();
    recorder.run_ticks(20).unwrap();
    let scenario = recorder.scenario();
    assert!(
        Replayer::<Marker>::new(&scenario)
            .run()
            .unwrap()
            .is_verified()
    );
    // One more resource takes an entity index: the planted id differs.
    let report = Replayer::<WithOverlay<Marker>>::new(&scenario)
        .run()
        .unwrap();
    assert!(report.divergence.is_some(), "{report}");
    assert!(
        report
            .composition_changes
            .iter()
            .any(|c| c.starts_with("+ resource") && c.contains("Overlay")),
        "{:?}",
        report.composition_changes
    );
    let cause = report
        .likely_cause()
        .expect("a changed app is the likely cause");
    assert!(cause.contains("Overlay"), "{cause}");
    assert!(report.to_string().ends_with(&cause), "{report}");
    let bisected = bisect::<WithOverlay<Marker>>(&scenario, ExecutorKind::Sequential)
        .unwrap()
        .expect("it diverges");
    assert!(bisected.to_string().contains("likely cause"), "{bisected}");
}

#[test]
fn a_version_from_the_future_is_refused_with_a_clear_error() {
    let text = std::fs::read_to_string(fixture("tally.ron"))
        .unwrap()
        .replace("format_version: 1,", "format_version: 9,");
    let error = Scenario::parse::<Tally>(&text, "future.ron").unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("future.ron:2:"), "{message}");
    assert!(message.contains('9'), "{message}");
    assert!(message.contains(&FORMAT_VERSION.to_string()), "{message}");
}

/// A game whose startup system sets the score its ticks then add to.
struct Startup;

#[derive(Resource, Default, Clone, Debug)]
struct Score(u64);
tickbus::impl_stable_hash!(Score { 0 });

fn score_a_point(mut score: ResMut<Score>) {
    score.0 += 1;
}

impl Game for Startup {
    const NAME: &'static str = "startup";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.init_resource::<Score>()
            .add_startup_systems(|mut score: ResMut<Score>| score.0 = 1000)
            .add_systems(score_a_point);
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<Score>();
    }
}

#[test]
fn seeking_back_to_the_snapshot_of_tick_0_runs_the_startup_systems_again() {
    let mut recorder = Recorder::<Startup>::builder(()).build().unwrap();
    recorder.run_ticks(100).unwrap();
    let scenario = recorder.scenario();
    let policy = SnapshotPolicy::every(50);
    let mut timeline =
        Timeline::<Startup>::open_with(&scenario, ExecutorKind::Sequential, policy).unwrap();
    timeline.seek(10).unwrap();
    assert_eq!(timeline.world().resource::<Score>().0, 1010);
    timeline.seek(60).unwrap();
    timeline.seek(10).unwrap();
    assert_eq!(timeline.world().resource::<Score>().0, 1010);
    let check = verify_restore::<Startup>(&scenario, ExecutorKind::Sequential, 50).unwrap();
    assert!(check.is_ok(), "{check}");
}

/// A game with a system that panics when it missed ticks, as it does in any restored run
/// (its count lives in a `Local`); the registered state never shows it.
struct StrictLocal;

#[derive(Resource, Default, Clone, Debug)]
struct Ran(u64);
tickbus::impl_stable_hash!(Ran { 0 });

fn count_ran(mut ran: ResMut<Ran>) {
    ran.0 += 1;
}

fn refuse_missed_ticks(mut seen: Local<u64>, time: Res<SimTime>) {
    *seen += 1;
    assert_eq!(*seen, time.tick() + 1, "this system missed ticks");
}

impl Game for StrictLocal {
    const NAME: &'static str = "strict-local";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.init_resource::<Ran>()
            .add_systems((count_ran, refuse_missed_ticks));
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<Ran>();
    }
}

#[test]
fn the_verify_mode_reports_a_tick_that_fails_in_the_restored_run_only() {
    let mut recorder = Recorder::<StrictLocal>::builder(()).build().unwrap();
    recorder.run_ticks(100).unwrap();
    let scenario = recorder.scenario();
    let check = verify_restore::<StrictLocal>(&scenario, ExecutorKind::Sequential, 20).unwrap();
    assert!(!check.is_ok(), "{check}");
    let mismatch = check.mismatch.as_ref().expect("a mismatch");
    // The second pass from tick 0 runs tick 0 again in the same engine: its Local says 2.
    assert_eq!((mismatch.snapshot_tick, mismatch.tick), (0, 1), "{check}");
    assert!(
        matches!(&mismatch.failed, Some(FailedRun::Restored(error)) if error.contains("missed ticks")),
        "{check}"
    );
}

#[test]
fn a_verify_check_that_stopped_early_is_not_ok() {
    let check = RestoreCheck {
        snapshots: 1,
        ticks_compared: 21,
        mismatch: None,
        scenario_ticks: 100,
        stopped_at: None,
    };
    assert!(!check.is_ok(), "{check}");
    assert!(
        check.to_string().contains("only 21 of the scenario's 100"),
        "{check}"
    );
    let crashed_alike = RestoreCheck {
        stopped_at: Some(21),
        ..check
    };
    assert!(crashed_alike.is_ok(), "{crashed_alike}");
}

#[test]
fn rewinding_a_recording_to_a_later_tick_is_refused_and_changes_nothing() {
    let mut recorder = Recorder::<Startup>::builder(())
        .snapshots(SnapshotPolicy::every(10))
        .build()
        .unwrap();
    recorder.run_ticks(100).unwrap();
    let before = recorder.scenario();
    let refused = recorder.rewind_to(150);
    assert!(
        matches!(
            refused,
            Err(TimeTravelError::PastEnd {
                tick: 150,
                end: 100
            })
        ),
        "{refused:?}"
    );
    assert_eq!(recorder.engine().tick_count(), 100);
    let after = recorder.scenario();
    assert_eq!(after.ticks, 100);
    assert_eq!(after.checkpoints, before.checkpoints);
    let report = Replayer::<Startup>::new(&after).run().unwrap();
    assert!(report.is_verified(), "{report:?}");
    recorder.rewind_to(100).unwrap();
    assert_eq!(recorder.engine().tick_count(), 100);
}

/// A game that spawns one entity per tick and, at tick 20, inserts a resource it does not
/// register: an entity a restore leaves alone, at an index a tick-10 snapshot had unused.
struct LateResource;

#[derive(Component, Clone, Debug)]
struct Serial(u64);
tickbus::impl_stable_hash!(Serial { 0 });

#[derive(Resource, Debug)]
struct Late(u64);

#[derive(Resource, Default, Clone, Debug)]
struct Spawned(u64);
tickbus::impl_stable_hash!(Spawned { 0 });

fn spawn_one(mut commands: Commands, mut spawned: ResMut<Spawned>) {
    spawned.0 += 1;
    commands.spawn(Serial(spawned.0));
    if spawned.0 == 20 {
        commands.insert_resource(Late(7));
    }
}

impl Game for LateResource {
    const NAME: &'static str = "late-resource";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.init_resource::<Spawned>()
            .add_systems(spawn_one.in_set(Spawners));
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<Spawned>().component::<Serial>();
    }
}

/// Seed 1, 60 ticks a second, the sequential executor: the run of the restore tests below.
fn sequential_setup() -> RunSetup {
    RunSetup {
        seed: 1,
        tick_rate: 60,
        executor: ExecutorKind::Sequential,
    }
}

#[test]
fn a_restore_never_hands_out_the_id_of_a_resource_inserted_after_the_snapshot() {
    let setup = sequential_setup();
    let (mut engine, _input) = build_game::<LateResource>(&(), setup).unwrap();
    let state = state_hasher::<LateResource>();
    engine.run_ticks(10).unwrap();
    let snapshot = Snapshot::capture(&mut engine, &state).unwrap();
    engine.run_ticks(50).unwrap();
    snapshot.restore(&mut engine, &state).unwrap();
    let late = engine.world().resource_entity::<Late>().unwrap();
    let spawned: Vec<Entity> = (0..200)
        .map(|k| engine.world_mut().spawn(Serial(1000 + k)).id())
        .collect();
    assert!(
        spawned.iter().all(|e| e.index() != late.index()),
        "{late:?}"
    );
    assert!(engine.world().get::<Serial>(late).is_none());
    assert_eq!(engine.world().resource::<Late>().0, 7);
    Snapshot::capture(&mut engine, &state).unwrap();
}

#[test]
fn seeking_back_before_a_late_resource_and_forward_again_works() {
    let mut recorder = Recorder::<LateResource>::builder(()).build().unwrap();
    recorder.run_ticks(100).unwrap();
    let scenario = recorder.scenario();
    let policy = SnapshotPolicy::every(10);
    let mut timeline =
        Timeline::<LateResource>::open_with(&scenario, ExecutorKind::Sequential, policy).unwrap();
    timeline.seek(60).unwrap();
    timeline.seek(15).unwrap();
    timeline.seek(100).unwrap();
    assert_eq!(timeline.world().resource::<Late>().0, 7);
    assert_eq!(timeline.snapshot().unwrap().entities().len(), 100);
}

#[derive(Resource)]
struct Extra;

#[test]
fn a_restore_that_cannot_place_an_entity_fails_before_changing_anything() {
    let setup = sequential_setup();
    let state = state_hasher::<LateResource>();
    let (mut captured, _input) = build_game::<LateResource>(&(), setup).unwrap();
    captured.run_ticks(60).unwrap();
    let snapshot = Snapshot::capture(&mut captured, &state).unwrap();
    let (mut other, _other_input) = build_game::<LateResource>(&(), setup).unwrap();
    other.run_ticks(5).unwrap();
    other.world_mut().insert_resource(Extra);
    let extra = other.world().resource_entity::<Extra>().unwrap();
    let before = (other.tick_count(), state.hash(other.world()));
    let refused = snapshot.restore(&mut other, &state);
    assert!(
        matches!(refused, Err(SnapshotError::EntityTaken { index }) if index == extra.index_u32()),
        "{refused:?}"
    );
    assert_eq!((other.tick_count(), state.hash(other.world())), before);
    other.run_ticks(5).unwrap();
    assert_eq!(other.world().resource::<Spawned>().0, 10);
}

/// A game that spawns one entity per tick and, at tick 20, adds an observer (an entity a
/// restore leaves alone, at an index a tick-10 snapshot had unused). The observer counts the
/// `Serial`s added in a resource the game does not register, as a debug counter would.
struct LateObserver;

#[derive(Resource, Default, Debug)]
struct SerialsSeen(u64);

fn spawn_one_and_watch(
    mut commands: Commands,
    mut spawned: ResMut<Spawned>,
    mut watching: Local<bool>,
) {
    spawned.0 += 1;
    commands.spawn(Serial(spawned.0));
    // Once per engine, as a tool attaching itself would (a snapshot does not hold a Local, so
    // a restored run does not add it again).
    if spawned.0 == 20 && !*watching {
        *watching = true;
        commands.add_observer(|_: On<Add<Serial>>, mut seen: ResMut<SerialsSeen>| seen.0 += 1);
    }
}

impl Game for LateObserver {
    const NAME: &'static str = "late-observer";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.init_resource::<Spawned>()
            .init_resource::<SerialsSeen>()
            .add_systems(spawn_one_and_watch.in_set(Spawners));
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<Spawned>().component::<Serial>();
    }
}

/// The observers of `world`.
fn observers(world: &World) -> Vec<Entity> {
    let Some(observer) = world.components().component_id::<Observer>() else {
        return Vec::new();
    };
    world
        .archetypes()
        .iter()
        .filter(|archetype| archetype.contains(observer))
        .flat_map(|archetype| archetype.entities().iter().map(|e| e.id()))
        .collect()
}

#[test]
fn a_restore_never_hands_out_the_id_of_an_observer_added_after_the_snapshot() {
    let setup = sequential_setup();
    let (mut engine, _input) = build_game::<LateObserver>(&(), setup).unwrap();
    let state = state_hasher::<LateObserver>();
    engine.run_ticks(10).unwrap();
    let snapshot = Snapshot::capture(&mut engine, &state).unwrap();
    assert!(observers(engine.world()).is_empty());
    engine.run_ticks(50).unwrap();
    let [observer] = observers(engine.world())[..] else {
        panic!("one observer after tick 20");
    };
    snapshot.restore(&mut engine, &state).unwrap();
    assert_eq!(observers(engine.world()), [observer], "kept as it was");
    let seen = engine.world().resource::<SerialsSeen>().0;
    let spawned: Vec<Entity> = (0..200)
        .map(|k| engine.world_mut().spawn(Serial(1000 + k)).id())
        .collect();
    assert!(
        spawned.iter().all(|e| e.index() != observer.index()),
        "{observer:?}"
    );
    assert!(engine.world().get::<Serial>(observer).is_none());
    // The observer still runs, once per spawn: its entity was not overwritten.
    assert_eq!(engine.world().resource::<SerialsSeen>().0, seen + 200);
    Snapshot::capture(&mut engine, &state).unwrap();
}

#[test]
fn seeking_back_before_a_late_observer_and_forward_again_replays_the_recording() {
    let mut recorder = Recorder::<LateObserver>::builder(())
        .checkpoint_every(10)
        .build()
        .unwrap();
    recorder.run_ticks(100).unwrap();
    let scenario = recorder.scenario();
    let policy = SnapshotPolicy::every(10);
    let mut timeline =
        Timeline::<LateObserver>::open_with(&scenario, ExecutorKind::Sequential, policy).unwrap();
    timeline.seek(60).unwrap();
    timeline.seek(15).unwrap();
    timeline.seek(100).unwrap();
    let recorded = scenario.checkpoints.last().unwrap();
    assert_eq!(recorded.tick, 100);
    assert_eq!(
        timeline.hash().total,
        recorded.hash,
        "the recorded state at tick 100"
    );
    let [observer] = observers(timeline.world())[..] else {
        panic!("one observer, added once");
    };
    let serials = timeline.snapshot().unwrap().entities().to_vec();
    assert_eq!(serials.len(), 100);
    assert!(serials.iter().all(|e| e.index() != observer.index()));
    let check = verify_restore::<LateObserver>(&scenario, ExecutorKind::Sequential, 10).unwrap();
    assert!(check.is_ok(), "{check}");
}

/// A game that keeps entity ids in its hashed state: each tick it spawns a link that names
/// the previous one, keeps the live links in a resource, and despawns the oldest ones an
/// input asks it to cut.
///
/// `tests/fixtures/v1/chain.ron` was recorded by the last build that wrote format version 1
/// (commit 81d1e54): this game's code in an example of that tree, without what that build
/// did not have (`.in_set(Spawners)`, and the entity mapping (`#[entities]`, `MapEntities`) a
/// restore maps stored ids through, which changes no tick), recorded with `Recorder` (seed 3,
/// checkpoints every 10 ticks, sequential executor, cuts of 2, 3 and 1 sent before ticks 5,
/// 17 and 30) and printed with `Scenario::to_ron`, unedited (the program is
/// `tests/fixtures/v1/record_chain.rs`).
struct Chain;

#[derive(Component, Clone, Debug)]
struct Link {
    serial: u64,
    #[entities]
    previous: Option<Entity>,
}
tickbus::impl_stable_hash!(Link { serial, previous });

#[derive(Resource, Default, Clone, Debug)]
#[component(map_entities)]
struct Links(Vec<Entity>);

impl MapEntities for Links {
    fn map_entities<E: EntityMapper>(&mut self, mapper: &mut E) {
        self.0.map_entities(mapper);
    }
}
tickbus::impl_stable_hash!(Links { 0 });

fn grow(inputs: EventReader<u32>, mut commands: Commands, mut links: ResMut<Links>) {
    let cut: usize = inputs.iter().map(|&k| k as usize).sum();
    let cut = cut.min(links.0.len());
    for gone in links.0.drain(..cut) {
        commands.entity(gone).despawn();
    }
    let previous = links.0.last().copied();
    let serial = links.0.len() as u64;
    links.0.push(commands.spawn(Link { serial, previous }).id());
}

impl Game for Chain {
    const NAME: &'static str = "chain";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.init_resource::<Links>()
            .add_systems(grow.in_set(Spawners));
    }
    fn register_state(state: &mut StateHasher) {
        state.component::<Link>().resource::<Links>();
    }
}

#[test]
fn a_version_1_file_of_a_game_with_entity_ids_in_its_state_verifies() {
    let scenario = Scenario::load::<Chain>(fixture("chain.ron")).unwrap();
    let text = std::fs::read_to_string(fixture("chain.ron")).unwrap();
    assert!(text.contains("format_version: 1,"));
    assert_eq!(scenario.entity_scheme, EntityScheme::Version1);
    for executor in executors() {
        let report = Replayer::<Chain>::new(&scenario)
            .executor(executor)
            .run()
            .unwrap();
        assert!(report.is_verified(), "{executor:?}: {report}");
        assert_eq!(report.checkpoints_verified, 5);
    }
    // Written back as version 2 it keeps its scheme, and still verifies.
    let written = scenario.to_ron().unwrap();
    assert!(written.contains("format_version: 2,"), "{written}");
    assert!(written.contains("entity_scheme: Version1,"), "{written}");
    let again = Scenario::parse::<Chain>(&written, "chain-v2.ron").unwrap();
    assert_eq!(again, scenario);
    assert!(Replayer::<Chain>::new(&again).run().unwrap().is_verified());
}

#[test]
fn a_version_1_scenario_that_was_not_migrated_replays_and_is_refused_the_version_1_way() {
    // What serde's own `Deserialize` or a scenario built in code gives: the old version
    // number without the field the migration sets.
    let mut scenario = Scenario::load::<Chain>(fixture("chain.ron")).unwrap();
    scenario.format_version = 1;
    scenario.entity_scheme = EntityScheme::Current;
    assert_eq!(scenario.recorded_entity_scheme(), EntityScheme::Version1);
    let report = Replayer::<Chain>::new(&scenario).run().unwrap();
    assert!(report.is_verified(), "{report}");
    let refused = Timeline::<Chain>::open(&scenario, ExecutorKind::Sequential);
    assert!(
        matches!(refused, Err(ReplayError::Version1NotRewindable)),
        "{refused:?}"
    );
}

#[test]
fn a_version_1_file_is_refused_for_time_travel_and_rerecorded_for_it() {
    let scenario = Scenario::load::<Chain>(fixture("chain.ron")).unwrap();
    let refused = Timeline::<Chain>::open(&scenario, ExecutorKind::Sequential);
    assert!(
        matches!(refused, Err(ReplayError::Version1NotRewindable)),
        "{refused:?}"
    );
    let refused = verify_restore::<Chain>(&scenario, ExecutorKind::Sequential, 10);
    assert!(
        matches!(refused, Err(ReplayError::Version1NotRewindable)),
        "{refused:?}"
    );
    let refused = bisect::<Chain>(&scenario, ExecutorKind::Sequential);
    assert!(
        matches!(refused, Err(ReplayError::Version1NotRewindable)),
        "{refused:?}"
    );
    let current = Recorder::<Chain>::rerecord(&scenario, 10, ExecutorKind::Sequential).unwrap();
    assert_eq!(current.entity_scheme, EntityScheme::Current);
    assert!(!current.to_ron().unwrap().contains("entity_scheme"));
    // This build's ids are one higher: the same run, other ids, other hashes.
    assert_ne!(current.checkpoints[1].hash, scenario.checkpoints[1].hash);
    assert!(
        Replayer::<Chain>::new(&current)
            .run()
            .unwrap()
            .is_verified()
    );
    let check = verify_restore::<Chain>(&current, ExecutorKind::Sequential, 10).unwrap();
    assert!(check.is_ok(), "{check}");
}

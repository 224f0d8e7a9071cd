//! The scheduler: parallelism is real, conflicting systems never overlap, explicit orders
//! and conflict edges are as documented, cycles and unknown targets are rejected by name,
//! panics are reported with the system and the tick (the same failure on every executor),
//! exclusive systems see the commands before them, non-Send systems.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tickbus::{BuildError, ExecutorKind, TickError, prelude::*, schedule::EdgeReason};

/// The parallel executor with `threads` threads that offers every system to its workers.
fn eager(threads: usize) -> ExecutorKind {
    ExecutorKind::forced_parallel(threads)
}

/// Every executor a failure must look the same on.
fn every_executor() -> Vec<ExecutorKind> {
    vec![
        ExecutorKind::Sequential,
        ExecutorKind::parallel(2),
        eager(1),
        eager(2),
        eager(4),
    ]
}

#[derive(Resource, Default)]
struct Meeting {
    arrived: Arc<AtomicUsize>,
    /// Ticks in which the first system to arrive saw the second arrive while it waited.
    first_saw_second: Arc<AtomicUsize>,
}

/// The first of the two systems to arrive in a tick waits (with a timeout) until the second
/// has arrived too: only possible when both run at the same time.
fn rendezvous(meeting: Res<Meeting>) {
    let order = meeting.arrived.fetch_add(1, Ordering::SeqCst);
    if order % 2 == 1 {
        return; // the second arrival: the first is (or was) waiting for it
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if meeting.arrived.load(Ordering::SeqCst) > order + 1 {
            meeting.first_saw_second.fetch_add(1, Ordering::SeqCst);
            return;
        }
        std::hint::spin_loop();
    }
}

fn other_rendezvous(meeting: Res<Meeting>) {
    rendezvous(meeting);
}

#[test]
fn independent_systems_really_run_at_the_same_time() {
    let mut app = App::new();
    app.set_executor(eager(2))
        .init_resource::<Meeting>()
        .add_systems(rendezvous)
        .add_systems(other_rendezvous);
    let mut engine = app.build().unwrap();
    for _ in 0..3 {
        let stats = engine.tick().unwrap();
        assert_eq!(stats.peak_running, 2, "both ran at once");
        assert_eq!(stats.systems_on_workers, 1, "one of them on the worker");
    }
    let met = engine
        .world()
        .resource::<Meeting>()
        .first_saw_second
        .load(Ordering::SeqCst);
    assert_eq!(met, 3, "in every tick, the first arrival saw the second");
}

/// Systems that each wait (with a timeout) until three of them run at once.
#[derive(Resource, Default)]
struct Trio {
    running: Arc<AtomicUsize>,
    all_three: Arc<AtomicUsize>,
}

fn wait_for_three(trio: Res<Trio>) {
    trio.running.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    while trio.running.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        std::hint::spin_loop();
    }
    if trio.running.load(Ordering::SeqCst) >= 3 {
        trio.all_three.fetch_add(1, Ordering::SeqCst);
    }
    // Stay counted until every one of the three has seen the others.
    while !trio.all_three.load(Ordering::SeqCst).is_multiple_of(3) && Instant::now() < deadline {
        std::hint::spin_loop();
    }
    trio.running.fetch_sub(1, Ordering::SeqCst);
}

#[test]
fn every_idle_worker_is_asked_for_and_busy_ones_are_not_counted() {
    fn first(trio: Res<Trio>) {
        wait_for_three(trio);
    }
    fn second(trio: Res<Trio>) {
        wait_for_three(trio);
    }
    fn third(trio: Res<Trio>) {
        wait_for_three(trio);
    }
    let mut app = App::new();
    app.set_executor(eager(4))
        .init_resource::<Trio>()
        .add_systems(first)
        .add_systems(second)
        .add_systems(third);
    let mut engine = app.build().unwrap();
    for _ in 0..5 {
        let stats = engine.tick().unwrap();
        assert_eq!(stats.peak_running, 3, "all three at once");
        assert!(stats.systems_on_workers >= 2, "{stats:?}");
    }
    let met = engine
        .world()
        .resource::<Trio>()
        .all_three
        .load(Ordering::SeqCst);
    assert_eq!(met, 15, "in every tick, each saw the other two");
}

#[derive(Resource, Default)]
struct Shared {
    in_flight: Arc<AtomicUsize>,
    overlaps: Arc<AtomicUsize>,
    runs: u64,
}

fn touch_shared(mut shared: ResMut<Shared>) {
    if shared.in_flight.fetch_add(1, Ordering::SeqCst) != 0 {
        shared.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    spin_for(20);
    shared.runs += 1;
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
}

fn idle_work() {
    spin_for(20);
}

#[test]
fn conflicting_systems_never_overlap() {
    let mut app = App::new();
    app.set_executor(eager(4)).init_resource::<Shared>();
    for _ in 0..4 {
        app.add_systems(touch_shared).add_systems(idle_work);
    }
    let mut engine = app.build().unwrap();
    engine.run_ticks(100).unwrap();
    let shared = engine.world().resource::<Shared>();
    assert_eq!(shared.runs, 400);
    assert_eq!(shared.overlaps.load(Ordering::SeqCst), 0);
}

#[derive(Resource, Default)]
struct Score(u32);
#[derive(Resource, Default)]
struct Log(Vec<&'static str>);

fn spawn_wave(mut log: ResMut<Log>) {
    log.0.push("spawn_wave");
}
fn move_units(mut log: ResMut<Log>) {
    log.0.push("move_units");
}
fn add_score(mut score: ResMut<Score>) {
    score.0 += 1;
}
fn show_score(score: Res<Score>) {
    std::hint::black_box(score.0);
}
fn independent() {}
fn never_added() {}

/// The set of wave spawners.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Waves;

#[test]
fn the_plan_explains_every_edge() {
    let mut app = App::new();
    app.init_resource::<Score>()
        .init_resource::<Log>()
        .add_systems(move_units.after(spawn_wave))
        .add_systems(spawn_wave.in_set(Waves))
        .add_systems(add_score)
        .add_systems(show_score.after(Waves))
        .add_systems(independent);
    let engine = app.build().unwrap();
    let plan = engine.schedule_plan();
    let index = |name| plan.index_of(name).unwrap();
    let reason = |from, to| {
        plan.edges
            .iter()
            .find(|e| e.from == index(from) && e.to == index(to))
            .map(|e| e.reason.clone())
    };
    assert!(matches!(
        reason("spawn_wave", "move_units"),
        Some(EdgeReason::Explicit { before, .. }) if before == "system spawn_wave"
    ));
    assert!(matches!(
        reason("spawn_wave", "show_score"),
        Some(EdgeReason::Explicit { before, .. }) if before == "set Waves"
    ));
    assert_eq!(
        reason("add_score", "show_score"),
        Some(EdgeReason::Conflict(vec!["Score".into()]))
    );
    assert_eq!(
        plan.run_order
            .iter()
            .map(|&i| plan.systems[i].name.as_str())
            .collect::<Vec<_>>(),
        vec![
            "spawn_wave",
            "move_units",
            "add_score",
            "show_score",
            "independent"
        ],
        "explicit order first, registration order otherwise"
    );
    assert!(plan.may_run_together(index("independent"), index("move_units")));
    assert!(!plan.may_run_together(index("add_score"), index("show_score")));
    let text = plan.to_string();
    assert!(
        text.contains("add_score -> show_score: conflict: Score"),
        "{text}"
    );
    assert!(
        text.contains(
            "spawn_wave -> move_units: explicit: system spawn_wave before system move_units"
        ),
        "{text}"
    );
}

#[test]
fn an_explicit_order_against_registration_order_wins_over_the_conflict_edge() {
    fn first(mut log: ResMut<Log>) {
        log.0.push("first");
    }
    fn second(mut log: ResMut<Log>) {
        log.0.push("second");
    }
    let mut app = App::new();
    app.init_resource::<Log>()
        .add_systems(first.after(second))
        .add_systems(second);
    let mut engine = app.build().unwrap();
    engine.tick().unwrap();
    assert_eq!(engine.world().resource::<Log>().0, vec!["second", "first"]);
}

#[test]
fn a_cycle_is_rejected_with_the_systems_on_it() {
    let mut app = App::new();
    app.init_resource::<Score>()
        .init_resource::<Log>()
        .add_systems(spawn_wave.after(move_units))
        .add_systems(move_units.after(add_score))
        .add_systems(add_score.after(spawn_wave))
        .add_systems(independent);
    let Err(BuildError::Cycle { systems }) = app.build() else {
        panic!("a cycle must be rejected");
    };
    let mut sorted = systems.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["add_score", "move_units", "spawn_wave"]);
}

#[test]
fn a_cycle_error_names_the_cycle_not_a_system_that_only_follows_it() {
    fn hud() {}
    fn a() {}
    fn b() {}
    let mut app = App::new();
    app.add_systems(hud.after(b))
        .add_systems(a.after(b))
        .add_systems(b.after(a));
    let error = app.build().expect_err("a cycle");
    let BuildError::Cycle { systems } = &error else {
        panic!("{error}");
    };
    let mut sorted = systems.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["a", "b"], "{error}");
    assert!(
        [
            "the explicit system orders form a cycle: a -> b -> a",
            "the explicit system orders form a cycle: b -> a -> b"
        ]
        .contains(&error.to_string().as_str()),
        "{error}"
    );
}

#[test]
fn an_order_against_nothing_is_rejected() {
    let mut app = App::new();
    app.add_systems(independent.after(never_added));
    let error = app.build().expect_err("unknown target");
    assert!(matches!(error, BuildError::UnknownOrderTarget { .. }));
    assert_eq!(
        error.to_string(),
        "system independent is ordered against system never_added, which was never added"
    );
}

fn explode(time: Res<SimTime>, mut score: ResMut<Score>) {
    score.0 += 1;
    if time.tick() == 3 {
        panic!("boom at three");
    }
}

#[test]
fn a_panic_names_the_system_and_the_tick_and_the_engine_stays_usable() {
    for executor in [ExecutorKind::Sequential, eager(2)] {
        let mut app = App::new();
        app.set_executor(executor)
            .init_resource::<Score>()
            .add_systems(explode)
            .add_systems(idle_work);
        let mut engine = app.build().unwrap();
        let error = engine.run_ticks(10).unwrap_err();
        assert_eq!(
            error,
            TickError::SystemPanicked {
                system: "explode".into(),
                tick: 3,
                message: "boom at three".into()
            }
        );
        assert_eq!(engine.tick_count(), 4, "the failed tick still ended");
        engine.run_ticks(2).unwrap();
        assert_eq!(engine.world().resource::<Score>().0, 6);
    }
}

#[test]
fn two_failures_in_one_tick_report_the_lowest_registration_index_everywhere() {
    fn slow_front() {
        spin_for(50);
    }
    fn fail_low(time: Res<SimTime>) {
        assert!(time.tick() != 2, "low");
    }
    fn fail_high(time: Res<SimTime>) {
        assert!(time.tick() != 2, "high");
    }
    fn count(mut score: ResMut<Score>) {
        score.0 += 1;
    }
    for executor in every_executor() {
        let mut app = App::new();
        app.set_executor(executor)
            .init_resource::<Score>()
            .add_systems(slow_front)
            .add_systems(fail_low)
            // Runs before `fail_low`, so it fails first in run order.
            .add_systems(fail_high.before(fail_low))
            .add_systems(count);
        let mut engine = app.build().unwrap();
        engine.run_ticks(2).unwrap();
        let error = engine.tick().unwrap_err();
        assert_eq!(
            error,
            TickError::SystemPanicked {
                system: "fail_low".into(),
                tick: 2,
                message: "low".into()
            },
            "{executor:?}"
        );
        assert_eq!(
            engine.world().resource::<Score>().0,
            3,
            "{executor:?}: count ran"
        );
    }
}

#[test]
fn an_exclusive_system_sees_the_commands_of_the_systems_before_it() {
    #[derive(Component)]
    struct Marker;
    #[derive(Resource, Default)]
    struct Seen(Vec<usize>);
    fn spawn_marker(mut commands: Commands) {
        commands.spawn(Marker);
    }
    fn count_markers(world: &mut World) {
        let markers = world.query::<&Marker>().iter(world).count();
        world.resource_mut::<Seen>().0.push(markers);
    }
    for executor in every_executor() {
        let mut app = App::new();
        app.set_executor(executor)
            .init_resource::<Seen>()
            .add_systems(spawn_marker)
            .add_systems(count_markers);
        let mut engine = app.build().unwrap();
        engine.run_ticks(3).unwrap();
        assert_eq!(
            engine.world().resource::<Seen>().0,
            vec![1, 2, 3],
            "{executor:?}"
        );
    }
}

#[test]
fn exclusive_systems_run_alone_between_the_others() {
    fn exclusive(world: &mut World) {
        world.resource_mut::<Log>().0.push("exclusive");
    }
    fn before(mut log: ResMut<Log>) {
        log.0.push("before");
    }
    fn after(mut log: ResMut<Log>) {
        log.0.push("after");
    }
    let mut app = App::new();
    app.set_executor(eager(2))
        .init_resource::<Log>()
        .add_systems(before)
        .add_systems(exclusive)
        .add_systems(after)
        .add_systems(idle_work);
    let mut engine = app.build().unwrap();
    engine.run_ticks(3).unwrap();
    let log = &engine.world().resource::<Log>().0;
    assert_eq!(log.len(), 9);
    assert!(log.chunks(3).all(|c| c == ["before", "exclusive", "after"]));
    let plan = engine.schedule_plan();
    assert!(plan.systems[1].exclusive);
    assert!(
        !plan.may_run_together(1, 3),
        "exclusive systems overlap with nothing"
    );
}

#[test]
fn non_send_systems_run_on_the_driving_thread() {
    /// Not `Send`: holds an `Rc`.
    struct MainOnly(#[allow(dead_code)] std::rc::Rc<()>);
    #[derive(Resource, Default)]
    struct Threads(Vec<std::thread::ThreadId>);
    fn on_main(_: NonSend<MainOnly>, mut threads: ResMut<Threads>) {
        threads.0.push(std::thread::current().id());
    }
    let mut app = App::new();
    app.set_executor(eager(4))
        .insert_non_send_resource(MainOnly(std::rc::Rc::new(())))
        .init_resource::<Threads>()
        .add_systems(on_main)
        .add_systems(idle_work)
        .add_systems(idle_work);
    let mut engine = app.build().unwrap();
    engine.run_ticks(20).unwrap();
    let main = std::thread::current().id();
    assert!(
        engine
            .world()
            .resource::<Threads>()
            .0
            .iter()
            .all(|&t| t == main)
    );
    assert!(engine.schedule_plan().systems[0].main_thread);
}

#[test]
fn run_conditions_skip_and_timings_count_it() {
    #[derive(Resource)]
    struct Enabled(bool);
    let mut app = App::new();
    app.insert_resource(Enabled(false))
        .init_resource::<Score>()
        .add_systems(add_score.run_if(|enabled: Res<Enabled>| enabled.0));
    let mut engine = app.build().unwrap();
    engine.run_ticks(3).unwrap();
    engine.world_mut().resource_mut::<Enabled>().0 = true;
    engine.run_ticks(2).unwrap();
    assert_eq!(engine.world().resource::<Score>().0, 2);
    let (name, timing) = engine.system_timings().next().unwrap();
    assert_eq!((name, timing.runs, timing.skipped), ("add_score", 2, 3));
}

#[test]
fn a_failing_command_names_its_system_and_other_writes_still_land() {
    #[derive(Component)]
    struct Marker;
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Note(u32);
    #[derive(Resource, Default)]
    struct Notes(Vec<u32>);
    fn bad_command(mut commands: Commands, time: Res<SimTime>) {
        if time.tick() == 1 {
            let gone = commands.spawn_empty().id();
            commands.entity(gone).despawn();
            commands.entity(gone).insert(Marker);
        }
    }
    fn note(mut out: EventWriter<Note>, time: Res<SimTime>) {
        out.send(Note(time.tick() as u32));
    }
    fn read_notes(notes: EventReader<Note>, mut seen: ResMut<Notes>) {
        seen.0.extend(notes.iter().map(|n| n.0));
    }
    let mut app = App::new();
    app.init_resource::<Notes>()
        .add_systems(bad_command)
        .add_systems(note)
        .add_systems(read_notes);
    let mut engine = app.build().unwrap();
    engine.tick().unwrap();
    let error = engine.tick().unwrap_err();
    assert!(
        matches!(&error, TickError::CommandsPanicked { system, tick: 1, .. } if system == "bad_command"),
        "{error}"
    );
    engine.run_ticks(2).unwrap();
    assert_eq!(
        engine.world().resource::<Notes>().0,
        vec![0, 1, 2],
        "tick 1's note was not held back"
    );
}

#[test]
fn data_parallel_work_inside_a_parallel_step_does_not_deadlock() {
    #[derive(Resource)]
    struct Field(Vec<u64>);
    fn chunked(pool: Res<tickbus::ComputePool>, mut field: ResMut<Field>) {
        pool.for_each_chunk_mut(&mut field.0, 1024, |_, chunk| {
            chunk.iter_mut().for_each(|x| *x += 1)
        });
    }
    fn busy() {
        spin_for(200);
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut app = App::new();
        app.set_executor(eager(2))
            .insert_resource(Field(vec![0; 100_000]))
            .add_systems(chunked)
            .add_systems(busy)
            .add_systems(busy);
        let mut engine = app.build().unwrap();
        engine.run_ticks(50).unwrap();
        let _ = done_tx.send(
            engine
                .world()
                .resource::<Field>()
                .0
                .iter()
                .all(|&x| x == 50),
        );
    });
    let all_updated = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("50 ticks finish (a worker blocked on the step would deadlock the chunked loop)");
    assert!(all_updated);
}

/// Builds an app of two independent systems on `executor`; a refused build gives its error,
/// an accepted engine is leaked rather than dropped (an executor that should have been refused
/// might not drop cleanly).
fn build_error(executor: ExecutorKind) -> Option<BuildError> {
    fn one() {}
    fn two() {}
    let mut app = App::new();
    app.set_executor(executor).add_systems((one, two));
    match app.build() {
        Ok(engine) => {
            std::mem::forget(engine);
            None
        }
        Err(error) => Some(error),
    }
}

#[test]
fn parallel_settings_the_executor_cannot_use_are_build_errors() {
    let with = |threads, spin| {
        ExecutorKind::Parallel(tickbus::ParallelConfig {
            threads,
            spin,
            ..tickbus::ParallelConfig::default()
        })
    };
    let spin = tickbus::schedule::DEFAULT_SPIN;
    for threads in [0, usize::MAX, tickbus::schedule::MAX_THREADS + 1] {
        let error = build_error(with(threads, spin));
        assert!(
            matches!(error, Some(BuildError::ThreadCount { threads: t }) if t == threads),
            "{threads} threads: {error:?}"
        );
    }
    for too_long in [Duration::MAX, tickbus::schedule::MAX_SPIN * 2] {
        let error = build_error(with(2, too_long));
        assert!(
            matches!(error, Some(BuildError::SpinTooLong { spin }) if spin == too_long),
            "{error:?}"
        );
    }
    assert!(build_error(with(2, tickbus::schedule::MAX_SPIN)).is_none());
}

#[derive(Component)]
struct FromCondition;

/// A run condition with `Commands` (bevy accepts it: `Commands` is a read-only parameter).
fn spawning_condition(mut commands: Commands) -> bool {
    commands.spawn(FromCondition);
    true
}

#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Gated;

#[test]
fn a_run_condition_with_deferred_buffers_is_refused_on_every_executor() {
    fn gated() {}
    fn free() {}
    for executor in every_executor() {
        let mut app = App::new();
        app.set_executor(executor)
            .add_systems(gated.run_if(spawning_condition))
            .add_systems(free);
        let error = app.build().map(|_| ()).unwrap_err();
        assert!(
            matches!(&error, BuildError::DeferredCondition { condition, owner }
                if condition == "spawning_condition" && owner == "system gated"),
            "{executor:?}: {error:?}"
        );
        assert!(error.to_string().contains("spawning_condition"), "{error}");
        let mut app = App::new();
        app.set_executor(executor)
            .configure_sets(Gated.run_if(spawning_condition))
            .add_systems((gated.in_set(Gated), free));
        let error = app.build().map(|_| ()).unwrap_err();
        assert!(
            matches!(&error, BuildError::DeferredCondition { owner, .. } if owner == "set Gated"),
            "{executor:?}: {error:?}"
        );
    }
}

/// Spawns and despawns the same entity in one command queue: the id is allocated while it
/// runs, but applying its commands shows no new entity.
fn spawn_and_vanish(mut commands: Commands) {
    let entity = commands.spawn_empty().id();
    commands.entity(entity).despawn();
}

fn other_commands_user(mut commands: Commands) {
    commands.queue(|_: &mut World| {});
}

fn without_parameters() {}

#[test]
fn an_unattributable_spawn_names_only_systems_that_could_have_spawned() {
    for executor in every_executor() {
        let mut app = App::new();
        app.set_executor(executor)
            .add_systems(without_parameters)
            .add_systems(spawn_and_vanish)
            .add_systems(other_commands_user);
        let mut engine = app.build().unwrap();
        let error = engine.tick().unwrap_err();
        match &error {
            TickError::UnattributedSpawn {
                systems,
                tick: 0,
                entities: 1,
            } => assert_eq!(
                systems,
                &["spawn_and_vanish", "other_commands_user"],
                "{executor:?}"
            ),
            other => panic!("{executor:?}: {other}"),
        }
        assert_eq!(error.system(), "spawn_and_vanish");
        assert!(!error.to_string().contains("without_parameters"), "{error}");
    }
}

/// A pool loop in a system that ran on the only worker, and the chunks of it that other
/// threads ran.
#[derive(Resource, Default)]
struct LoopOnWorker {
    ticks_on_worker: u64,
    chunks_elsewhere: u64,
}

/// Busy-waits for `micros` microseconds: a system or chunk of known cost.
fn spin_for(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

fn long_loop(pool: Res<tickbus::ComputePool>, mut seen: ResMut<LoopOnWorker>) {
    let me = std::thread::current();
    let elsewhere = AtomicUsize::new(0);
    let mut chunks = [0u8; 16];
    // The starting thread's later chunks wait (bounded) for another thread to take one, so
    // that a busy machine descheduling the helper does not decide the outcome.
    let deadline = Instant::now() + Duration::from_millis(100);
    pool.for_each_chunk_mut(&mut chunks, 1, |index, _| {
        spin_for(100);
        if std::thread::current().id() != me.id() {
            elsewhere.fetch_add(1, Ordering::Relaxed);
        }
        while index > 0 && elsewhere.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            std::hint::spin_loop();
        }
    });
    if me
        .name()
        .is_some_and(|name| name.starts_with("tickbus-worker"))
    {
        seen.ticks_on_worker += 1;
        seen.chunks_elsewhere += elsewhere.into_inner() as u64;
    }
}

fn short_system(mut ticks: Local<u64>) {
    spin_for(10);
    *ticks += 1;
}

#[test]
fn a_loop_started_on_the_only_worker_is_shared_with_the_driving_thread() {
    // The driving thread helps while it spins waiting for its step, then sleeps (a posting
    // wakes workers only): a spin longer than the loop's wait keeps it awake meanwhile.
    let ExecutorKind::Parallel(config) = eager(2) else {
        unreachable!("eager is a parallel executor")
    };
    let mut app = App::new();
    app.set_executor(ExecutorKind::Parallel(tickbus::ParallelConfig {
        spin: Duration::from_millis(200),
        ..config
    }))
    .init_resource::<LoopOnWorker>()
    .add_systems((long_loop, short_system));
    let mut engine = app.build().unwrap();
    // On a busy machine the driving thread often runs the loop itself (the worker did not
    // come in time): tick until the loop ran on the worker a few times.
    for _ in 0..2_000 {
        engine.run_ticks(1).unwrap();
        if engine.world().resource::<LoopOnWorker>().ticks_on_worker >= 5 {
            break;
        }
    }
    let seen = engine.world().resource::<LoopOnWorker>();
    assert!(
        seen.ticks_on_worker > 0,
        "setup: the loop ran on the worker"
    );
    assert!(
        seen.chunks_elsewhere > 0,
        "the driving thread helped the worker's loop in {} ticks",
        seen.ticks_on_worker
    );
}

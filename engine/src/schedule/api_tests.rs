//! The scheduling API as users write it (bevy's traits), on both executors.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::prelude::*;
use crate::{BuildError, TickError};

#[derive(Resource, Default)]
struct Log(Vec<&'static str>);

#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Phase {
    Early,
    Late,
}

/// The sequential executor, and the parallel executor handing every system it can to its
/// workers (so set conditions are also evaluated off the driving thread).
fn executors() -> [ExecutorKind; 2] {
    [ExecutorKind::Sequential, ExecutorKind::forced_parallel(4)]
}

fn app_on(executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor).init_resource::<Log>();
    app
}

fn log(name: &'static str) -> impl FnMut(ResMut<Log>) {
    move |mut log: ResMut<Log>| log.0.push(name)
}

fn logged(engine: &Engine) -> Vec<&'static str> {
    engine.world().resource::<Log>().0.clone()
}

fn a() {}
fn b() {}
fn c() {}

#[test]
fn registration_order_is_the_order_systems_are_added() {
    let mut app = App::new();
    app.add_systems((c, a)).add_systems(b);
    let plan = app.build().unwrap().schedule_plan();
    let names: Vec<&str> = plan.systems.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["c", "a", "b"]);
}

#[test]
fn chain_orders_independent_systems_and_the_plan_says_so() {
    let mut app = App::new();
    app.add_systems((c, b, a).chain());
    let plan = app.build().unwrap().schedule_plan();
    assert_eq!(plan.run_order, [0, 1, 2]);
    assert!(!plan.may_run_together(0, 1) && !plan.may_run_together(1, 2));
    let text = plan.to_string();
    assert!(
        text.contains("c -> b: explicit: system c before system b"),
        "{text}"
    );
}

#[test]
fn set_order_beats_registration_order() {
    for executor in executors() {
        let mut app = app_on(executor);
        app.configure_sets((Phase::Early, Phase::Late).chain())
            .add_systems(log("late").in_set(Phase::Late))
            .add_systems(log("early").in_set(Phase::Early));
        let mut engine = app.build().unwrap();
        engine.run_ticks(2).unwrap();
        assert_eq!(logged(&engine), ["early", "late", "early", "late"]);
    }
}

#[test]
fn the_plan_shows_set_membership_and_set_conditions() {
    let mut app = App::new();
    app.configure_sets(Phase::Late.in_set(Phase::Early).run_if(|| true))
        .add_systems((a.in_set(Phase::Late), b));
    let plan = app.build().unwrap().schedule_plan();
    assert_eq!(plan.systems[0].sets, ["Early", "Late"]);
    assert_eq!(plan.systems[0].set_conditions, ["Late"]);
    assert!(plan.systems[1].sets.is_empty());
    let text = plan.to_string();
    assert!(text.contains("sets: Early, Late"), "{text}");
}

/// Counts the evaluations of a set condition.
#[derive(Resource, Default)]
struct Evaluations(AtomicU32);

#[derive(Resource, Default)]
struct Open(bool);

fn gate(open: Res<Open>, evaluations: Res<Evaluations>) -> bool {
    evaluations.0.fetch_add(1, Ordering::Relaxed);
    open.0
}

fn open_on_odd_ticks(time: Res<SimTime>, mut open: ResMut<Open>) {
    open.0 = time.tick() % 2 == 1;
}

fn close(mut open: ResMut<Open>) {
    open.0 = false;
}

#[derive(Resource, Default)]
struct Runs(Vec<(u64, &'static str)>);

fn run_of(name: &'static str) -> impl FnMut(Res<SimTime>, ResMut<Runs>) {
    move |time: Res<SimTime>, mut runs: ResMut<Runs>| runs.0.push((time.tick(), name))
}

#[test]
fn a_set_condition_is_evaluated_once_per_tick_right_before_the_sets_first_system() {
    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .init_resource::<Evaluations>()
            .init_resource::<Open>()
            .init_resource::<Runs>()
            .configure_sets(Phase::Late.run_if(gate))
            // Before the set in the tick: the condition must see what this wrote.
            .add_systems(open_on_odd_ticks)
            .add_systems(
                (run_of("x"), run_of("y"), run_of("z"))
                    .chain()
                    .in_set(Phase::Late),
            )
            // After the set: closing must not take back this tick's verdict.
            .add_systems(close.after(Phase::Late));
        let mut engine = app.build().unwrap();
        engine.run_ticks(4).unwrap();
        let world = engine.world();
        assert_eq!(world.resource::<Evaluations>().0.load(Ordering::Relaxed), 4);
        let runs = &world.resource::<Runs>().0;
        assert_eq!(
            runs,
            &[(1, "x"), (1, "y"), (1, "z"), (3, "x"), (3, "y"), (3, "z")]
        );
    }
}

#[test]
fn system_conditions_are_all_evaluated_without_short_circuit() {
    let mut app = App::new();
    app.init_resource::<Evaluations>()
        .init_resource::<Open>()
        .add_systems(a.run_if(|| false).run_if(gate));
    let mut engine = app.build().unwrap();
    engine.run_ticks(3).unwrap();
    let evaluations = engine
        .world()
        .resource::<Evaluations>()
        .0
        .load(Ordering::Relaxed);
    assert_eq!(
        evaluations, 3,
        "as in bevy, a false condition does not hide the next"
    );
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Note(u32);

#[derive(Resource, Default)]
struct Heard(Vec<(u64, u32)>);

fn hear(notes: EventReader<Note>, time: Res<SimTime>, mut heard: ResMut<Heard>) {
    heard
        .0
        .extend(notes.iter().map(|note| (time.tick(), note.0)));
}

fn heard(engine: &Engine) -> Vec<(u64, u32)> {
    engine.world().resource::<Heard>().0.clone()
}

#[test]
fn startup_systems_run_once_before_tick_zero_and_see_each_others_commands() {
    #[derive(Component)]
    struct Spawned;

    fn spawn(mut commands: Commands) {
        commands.spawn(Spawned);
    }

    fn announce(spawned: Query<(), With<Spawned>>, mut out: EventWriter<Note>) {
        out.send(Note(spawned.iter().count() as u32));
    }

    for executor in executors() {
        let mut app = app_on(executor);
        app.init_resource::<Heard>()
            .add_startup_systems((spawn, announce).chain())
            .add_systems(hear);
        let mut engine = app.build().unwrap();
        engine.run_ticks(3).unwrap();
        assert_eq!(heard(&engine), [(0, 1)], "once, readable in tick 0");
    }
}

#[test]
fn a_failing_startup_system_is_reported_for_tick_zero_and_the_others_still_run() {
    fn first(mut out: EventWriter<Note>) {
        out.send(Note(1));
    }
    fn second_fails(mut out: EventWriter<Note>) {
        out.send(Note(2));
        panic!("no level");
    }
    fn third_fails() -> bevy_ecs::error::Result {
        Err("no save".into())
    }
    fn fourth(mut out: EventWriter<Note>) {
        out.send(Note(4));
    }

    let mut app = App::new();
    app.init_resource::<Heard>()
        .add_startup_systems((first, second_fails, third_fails, fourth).chain())
        .add_systems(hear);
    let mut engine = app.build().unwrap();
    let error = engine.tick().unwrap_err();
    assert!(
        matches!(error, TickError::SystemPanicked { tick: 0, .. }),
        "the lowest-index failure is reported: {error}"
    );
    assert!(error.to_string().contains("second_fails"), "{error}");
    assert_eq!(engine.tick_count(), 0, "tick 0 did not run");
    assert!(engine.start().is_ok(), "startup systems run once");
    engine.tick().unwrap();
    assert_eq!(
        heard(&engine),
        [(0, 1), (0, 2), (0, 4)],
        "every startup system ran; the failing one's events were kept, as in a tick"
    );
}

#[test]
fn an_exclusive_system_with_an_event_writer_is_merged_in_registration_order() {
    fn first(mut out: EventWriter<Note>) {
        out.send(Note(1));
    }
    fn exclusive(world: &mut World, mut out: EventWriter<Note>) {
        world.send_event(Note(100));
        out.send(Note(2));
    }
    fn third(mut out: EventWriter<Note>) {
        out.send(Note(3));
    }

    for executor in executors() {
        let mut app = app_on(executor);
        app.init_resource::<Heard>()
            .add_systems((first, exclusive, third, hear));
        let mut engine = app.build().unwrap();
        engine.run_ticks(2).unwrap();
        // The writer buffers of the systems before an exclusive system are merged before it
        // runs (bevy's sync point); its direct world write happens at once, so after them;
        // its own writer buffer is merged in its place, before the systems after it.
        assert_eq!(heard(&engine), [(1, 1), (1, 100), (1, 2), (1, 3)]);
    }
}

#[test]
fn deferred_work_is_applied_system_by_system_each_in_the_order_of_its_parameters() {
    fn writer_then_commands(mut out: EventWriter<Note>, mut commands: Commands) {
        out.send(Note(1));
        commands.queue(|world: &mut World| world.send_event(Note(2)));
    }
    fn commands_then_writer(mut commands: Commands, mut out: EventWriter<Note>) {
        commands.queue(|world: &mut World| world.send_event(Note(3)));
        out.send(Note(4));
    }

    for executor in executors() {
        let mut app = app_on(executor);
        app.init_resource::<Heard>().add_systems((
            writer_then_commands,
            commands_then_writer,
            hear,
        ));
        let mut engine = app.build().unwrap();
        engine.run_ticks(2).unwrap();
        assert_eq!(heard(&engine), [(1, 1), (1, 2), (1, 3), (1, 4)]);
    }
}

#[test]
fn events_sent_between_ticks_are_read_in_the_next_tick_even_of_a_new_type() {
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Unseen(u8);

    let mut app = App::new();
    app.init_resource::<Heard>().add_systems(hear);
    let mut engine = app.build().unwrap();
    engine.send_event(Note(7));
    // A type no system uses: its queue is created and swapped from now on.
    engine.send_event(Unseen(1));
    engine.run_ticks(1).unwrap();
    assert_eq!(heard(&engine), [(0, 7)]);
    let queue = engine.world().resource::<crate::EventQueue<Unseen>>();
    assert_eq!(queue.readable(), [Unseen(1)]);
}

#[test]
fn on_event_runs_a_system_only_in_ticks_with_events() {
    let mut app = App::new();
    let notes = app.add_source::<Note>(SourceConfig::unbounded());
    app.init_resource::<Runs>()
        .add_systems(run_of("on note").run_if(on_event::<Note>));
    let mut engine = app.build().unwrap();
    engine.run_ticks(1).unwrap();
    notes.send(Note(1)).unwrap();
    engine.run_ticks(2).unwrap();
    assert_eq!(engine.world().resource::<Runs>().0, [(1, "on note")]);
    assert_eq!(engine.stats().unconsumed(), 0);
    assert_eq!(
        engine
            .world()
            .resource::<crate::EventQueue<Note>>()
            .totals()
            .unconsumed,
        1,
        "the condition is not a reader"
    );
}

#[test]
fn ordering_against_a_system_that_was_never_added_is_an_error() {
    let mut app = App::new();
    app.add_systems(a.after(b));
    match app.build() {
        Err(BuildError::UnknownOrderTarget { system, target }) => {
            assert_eq!(system, "system a");
            assert_eq!(target, "system b");
        }
        other => panic!("expected UnknownOrderTarget, got {:?}", other.err()),
    }
}

#[test]
fn ordering_against_an_empty_set_is_fine() {
    let mut app = App::new();
    app.add_systems(a.after(Phase::Early));
    assert!(app.build().is_ok());
}

#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Stage {
    First,
    Empty,
    Last,
}

/// Registered last-stage first, so only the order through the empty stage puts "first" first.
fn first_and_last_stage(app: &mut App) {
    app.add_systems(log("last").in_set(Stage::Last))
        .add_systems(log("first").in_set(Stage::First));
}

#[test]
fn an_order_passes_through_an_empty_set_as_in_bevy() {
    for executor in executors() {
        let mut app = app_on(executor);
        app.configure_sets((Stage::First, Stage::Empty, Stage::Last).chain());
        first_and_last_stage(&mut app);
        let mut engine = app.build().unwrap();
        engine.run_ticks(1).unwrap();
        assert_eq!(logged(&engine), ["first", "last"]);
        let text = engine.schedule_plan().to_string();
        assert!(
            text.contains("explicit: set First before set Last"),
            "{text}"
        );
    }
}

#[test]
fn an_order_passes_through_a_set_whose_only_member_is_an_empty_set() {
    #[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
    struct Inner;
    #[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
    struct AlsoEmpty;
    let mut app = app_on(ExecutorKind::Sequential);
    app.configure_sets(Inner.in_set(Stage::Empty))
        .configure_sets((Stage::First, Stage::Empty, AlsoEmpty, Stage::Last).chain());
    first_and_last_stage(&mut app);
    let mut engine = app.build().unwrap();
    engine.run_ticks(1).unwrap();
    assert_eq!(logged(&engine), ["first", "last"]);
}

#[test]
fn ordering_a_system_against_its_own_set_is_refused() {
    let mut app = App::new();
    app.add_systems(a.in_set(Phase::Early).after(Phase::Early));
    match app.build() {
        Err(BuildError::OrderedAgainstOwnSet { node, set }) => {
            assert_eq!((node.as_str(), set.as_str()), ("system a", "set Early"));
        }
        other => panic!("expected OrderedAgainstOwnSet, got {:?}", other.err()),
    }
}

#[test]
fn ordering_a_set_against_a_set_containing_it_through_an_empty_set_is_refused() {
    let mut app = App::new();
    app.configure_sets(Phase::Early.in_set(Phase::Late))
        .configure_sets((Phase::Early, Stage::Empty, Phase::Late).chain())
        .add_systems(a.in_set(Phase::Early));
    match app.build() {
        Err(BuildError::OrderedAgainstOwnSet { node, set }) => {
            assert_eq!((node.as_str(), set.as_str()), ("set Early", "set Late"));
        }
        other => panic!("expected OrderedAgainstOwnSet, got {:?}", other.err()),
    }
}

#[test]
fn ordered_sets_that_share_a_system_are_refused() {
    let mut app = App::new();
    app.configure_sets((Phase::Early, Phase::Late).chain())
        .add_systems((
            a.in_set(Phase::Early),
            b.in_set(Phase::Early).in_set(Phase::Late),
        ));
    match app.build() {
        Err(BuildError::OrderedSetsOverlap {
            before,
            after,
            system,
        }) => {
            assert_eq!(
                [before, after, system],
                ["set Early", "set Late", "system b"]
            );
        }
        other => panic!("expected OrderedSetsOverlap, got {:?}", other.err()),
    }
}

#[test]
fn ordering_against_a_function_that_names_several_systems_is_refused() {
    // `log` returns the same closure type every time, so `.after(log("a"))` could mean any
    // of the three systems.
    let mut app = app_on(ExecutorKind::Sequential);
    app.add_systems((log("a"), log("b").after(log("a")), log("z")));
    match app.build() {
        Err(BuildError::AmbiguousOrderTarget { count, target, .. }) => {
            assert_eq!(count, 3, "{target}");
        }
        other => panic!("expected AmbiguousOrderTarget, got {:?}", other.err()),
    }
}

#[test]
fn a_system_with_conflicting_parameters_is_a_build_error_not_a_panic() {
    #[derive(Component)]
    struct Position;
    fn clashing(_first: Query<&mut Position>, _second: Query<&mut Position>) {}
    let mut app = App::new();
    app.add_systems((a, clashing));
    match app.build() {
        Err(BuildError::InvalidSystem { system, message }) => {
            assert_eq!(system, "clashing");
            assert!(message.contains("Position"), "{message}");
        }
        other => panic!("expected InvalidSystem, got {:?}", other.err()),
    }
}

#[test]
fn a_reader_of_events_nobody_writes_reads_nothing_and_two_sources_of_one_type_both_deliver() {
    #[derive(Debug, Clone, Copy)]
    struct Unwritten;
    fn read_nothing(unwritten: EventReader<Unwritten>, mut log: ResMut<Log>) {
        if !unwritten.is_empty() {
            log.0.push("read");
        }
    }
    let mut app = app_on(ExecutorKind::Sequential);
    let first = app.add_source::<Note>(SourceConfig::unbounded());
    let second = app.add_source::<Note>(SourceConfig::unbounded());
    app.init_resource::<Heard>()
        .add_systems((read_nothing, hear));
    let mut engine = app.build().unwrap();
    second.send(Note(2)).unwrap();
    first.send(Note(1)).unwrap();
    engine.run_ticks(2).unwrap();
    assert!(logged(&engine).is_empty());
    assert_eq!(
        heard(&engine),
        [(0, 1), (0, 2)],
        "sources in registration order"
    );
}

#[test]
fn sets_containing_each_other_are_refused() {
    let mut app = App::new();
    app.configure_sets((
        Phase::Early.in_set(Phase::Late),
        Phase::Late.in_set(Phase::Early),
    ))
    .add_systems(a.in_set(Phase::Early));
    assert!(matches!(app.build(), Err(BuildError::SetCycle { .. })));
}

#[test]
fn explicit_cycles_are_reported_with_their_systems() {
    let mut app = App::new();
    app.add_systems((a.after(b), b.after(a)));
    match app.build() {
        Err(BuildError::Cycle { systems }) => assert_eq!(systems.len(), 2, "{systems:?}"),
        other => panic!("expected a cycle, got {:?}", other.err()),
    }
}

#[derive(Resource, Default)]
struct Busy<const N: usize>(u64);

/// How many `busy` members run at this moment, and how long one waits for another to join
/// it: on a loaded machine a worker may start late, and the wait makes overlap certain
/// whenever the executor really hands members to workers, without timing the test.
#[derive(Resource)]
struct Company {
    running: AtomicU32,
    wait: std::time::Duration,
}

impl Company {
    fn waiting(wait: std::time::Duration) -> Self {
        Self {
            running: AtomicU32::new(0),
            wait,
        }
    }
}

/// Independent members of one gated set: on the parallel executor they are taken by several
/// threads at once, and the set's condition must still run once per tick.
fn busy<const N: usize>(mut busy: ResMut<Busy<N>>, company: Res<Company>) {
    company.running.fetch_add(1, Ordering::SeqCst);
    let until = std::time::Instant::now() + company.wait;
    while company.running.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < until {
        std::hint::spin_loop();
    }
    company.running.fetch_sub(1, Ordering::SeqCst);
    busy.0 += 1;
}

#[test]
fn a_set_condition_runs_once_per_tick_for_independent_members() {
    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .init_resource::<Evaluations>()
            .insert_resource(Open(true))
            .init_resource::<Busy<0>>()
            .init_resource::<Busy<1>>()
            .init_resource::<Busy<2>>()
            .insert_resource(Company::waiting(match executor {
                ExecutorKind::Sequential => std::time::Duration::ZERO,
                _ => std::time::Duration::from_millis(50),
            }))
            .configure_sets(Phase::Early.run_if(gate))
            .add_systems((busy::<0>, busy::<1>, busy::<2>).in_set(Phase::Early));
        let mut engine = app.build().unwrap();
        engine.run_ticks(20).unwrap();
        let world = engine.world();
        assert_eq!(
            world.resource::<Evaluations>().0.load(Ordering::Relaxed),
            20
        );
        assert_eq!(world.resource::<Busy<1>>().0, 20);
        let plan = engine.schedule_plan();
        assert!(plan.may_run_together(0, 1) && plan.may_run_together(1, 2));
        if executor != ExecutorKind::Sequential {
            let totals = engine.executor_totals();
            assert!(totals.overlapped(), "members overlapped: {totals:?}");
        }
    }
}

/// A gate whose condition panics: every member that asks in a tick gets the failure, so the
/// tick names the member with the lowest registration index even when another member asked
/// first (here `late_member` runs beside `slow`, which holds `early_member` back).
#[test]
fn a_failing_set_condition_names_the_first_member_on_every_executor() {
    /// Runs at least 300 µs and, on the parallel executor, until the gate was asked (by
    /// `late_member` on another thread) or 50 ms passed: a worker that starts late on a
    /// loaded machine still meets it, without the test timing anything.
    fn slow(mut busy: ResMut<Busy<0>>, asked: Res<GateAsked>) {
        let asked_before = asked.count.load(Ordering::SeqCst);
        let start = std::time::Instant::now();
        let least = start + std::time::Duration::from_micros(300);
        let most = start + asked.wait;
        while std::time::Instant::now() < least
            || (asked.count.load(Ordering::SeqCst) == asked_before
                && std::time::Instant::now() < most)
        {
            std::hint::spin_loop();
        }
        busy.0 += 1;
    }
    fn early_member(_busy: Res<Busy<0>>) {}
    fn late_member() {}
    fn broken_gate(asked: Res<GateAsked>) -> bool {
        asked.count.fetch_add(1, Ordering::SeqCst);
        panic!("the gate is broken")
    }
    #[derive(Resource)]
    struct GateAsked {
        count: AtomicU32,
        wait: std::time::Duration,
    }

    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .init_resource::<Busy<0>>()
            .insert_resource(GateAsked {
                count: AtomicU32::new(0),
                wait: match executor {
                    ExecutorKind::Sequential => std::time::Duration::ZERO,
                    _ => std::time::Duration::from_millis(50),
                },
            })
            .configure_sets(Phase::Early.run_if(broken_gate))
            .add_systems((slow, (early_member, late_member).in_set(Phase::Early)));
        let mut engine = app.build().unwrap();
        for tick in 0..20 {
            let error = engine.tick().unwrap_err();
            assert!(
                matches!(&error, TickError::SystemPanicked { system, .. } if system == "early_member"),
                "{executor:?}, tick {tick}: {error}"
            );
        }
        if executor != ExecutorKind::Sequential {
            let totals = engine.executor_totals();
            assert!(
                totals.overlapped(),
                "late_member ran beside slow: {totals:?}"
            );
        }
    }
}

#[derive(Component)]
struct Spawned;

fn spawn_one(mut commands: Commands) {
    commands.spawn(Spawned);
}

#[derive(Resource, Default)]
struct Counted(Vec<usize>);

fn count_spawned(spawned: Query<(), With<Spawned>>, mut counted: ResMut<Counted>) {
    counted.0.push(spawned.iter().count());
}

#[test]
fn apply_deferred_is_a_sync_point_as_in_bevy() {
    for executor in executors() {
        let mut app = app_on(executor);
        app.init_resource::<Counted>()
            .add_systems((spawn_one, bevy_ecs::schedule::ApplyDeferred, count_spawned).chain());
        let mut engine = app.build().unwrap();
        engine.run_ticks(2).unwrap();
        assert_eq!(
            engine.world().resource::<Counted>().0,
            [1, 2],
            "the spawn of the same tick is seen"
        );
    }
}

#[test]
fn a_member_of_spawners_is_ordered_against_every_commands_user() {
    fn despawn_spawned(mut commands: Commands, spawned: Query<Entity, With<Spawned>>) {
        spawned
            .iter()
            .for_each(|entity| commands.entity(entity).despawn());
    }
    fn insert_nothing(_commands: Commands) {}

    let mut app = App::new();
    app.add_systems((spawn_one.in_set(Spawners), despawn_spawned, insert_nothing));
    let plan = app.build().unwrap().schedule_plan();
    assert!(!plan.may_run_together(0, 1) && !plan.may_run_together(0, 2));
    assert!(
        plan.may_run_together(1, 2),
        "Commands users that do not spawn may overlap"
    );
    assert_eq!(plan.systems[0].sets, ["Spawners"]);
    assert!(plan.to_string().contains("spawn order"), "{plan}");
}

#[test]
fn a_whole_set_can_be_declared_to_spawn() {
    fn also_commands(_commands: Commands) {}

    let mut app = App::new();
    app.configure_sets(Phase::Late.in_set(Spawners))
        .add_systems((spawn_one.in_set(Phase::Late), also_commands));
    let plan = app.build().unwrap().schedule_plan();
    assert!(!plan.may_run_together(0, 1), "{plan}");
}

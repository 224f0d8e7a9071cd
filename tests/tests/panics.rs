//! Panics everywhere, on every executor: at the first tick, in an exclusive system, in a run
//! condition, in a system that already wrote events and queued spawns, inside a
//! `ComputePool` loop, and in a command applied at the end of the tick. Each error names the
//! system and the tick; every other system still runs in the failing tick; the engine runs
//! 1,000 more ticks; what of a failing tick is kept (the failing system's events, spawns,
//! chunks done) is the same on every executor and thread count, and kept events are readable
//! exactly in the next tick.

use std::sync::{Arc, Mutex};

use tickbus::{ComputePool, ExecutorKind, TickError, prelude::*};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Note(u64);

#[derive(Component)]
struct Marker;

/// What the reader saw, tick by tick: (tick, notes readable, markers alive).
#[derive(Resource, Default, Debug, PartialEq, Eq)]
struct Log(Vec<(u64, Vec<u64>, usize)>);

#[derive(Resource)]
struct Field(Vec<u32>);

#[derive(Resource, Default, Debug, PartialEq, Eq)]
struct ExclusiveRuns(u64);

const FIRST_TICK: u64 = 0;
const EXCLUSIVE_TICK: u64 = 5;
const CONDITION_TICK: u64 = 10;
const NOISY_TICK: u64 = 15;
const COMPUTE_TICK: u64 = 20;
const COMMAND_TICK: u64 = 25;
const FIELD_CHUNK: usize = 1024;

fn first_tick_bomb(time: Res<SimTime>) {
    assert!(time.tick() != FIRST_TICK, "boom at the first tick");
}

/// Writes a note and spawns a marker every tick; panics after both in [`NOISY_TICK`].
fn noisy(mut out: EventWriter<Note>, mut commands: Commands, time: Res<SimTime>) {
    out.send(Note(time.tick() * 10));
    commands.spawn(Marker);
    assert!(
        time.tick() != NOISY_TICK,
        "noisy after writing and spawning"
    );
}

fn exclusive_bomb(world: &mut World) {
    world.resource_mut::<ExclusiveRuns>().0 += 1;
    let tick = world.resource::<SimTime>().tick();
    assert!(tick != EXCLUSIVE_TICK, "exclusive boom");
}

fn bomb_condition(time: Res<SimTime>) -> bool {
    assert!(time.tick() != CONDITION_TICK, "condition boom");
    true
}

fn conditioned(mut out: EventWriter<Note>, time: Res<SimTime>) {
    out.send(Note(time.tick() * 10 + 1));
}

/// Adds one to every element, chunk by chunk; chunk 3 panics in [`COMPUTE_TICK`].
fn compute_bomb(pool: Res<ComputePool>, mut field: ResMut<Field>, time: Res<SimTime>) {
    let tick = time.tick();
    pool.for_each_chunk_mut(&mut field.0, FIELD_CHUNK, |index, chunk| {
        assert!(!(tick == COMPUTE_TICK && index == 3), "chunk 3 boom");
        chunk.iter_mut().for_each(|x| *x += 1);
    });
}

/// Writes a note every tick; in [`COMMAND_TICK`] also queues a command that panics.
fn command_bomb(mut commands: Commands, mut out: EventWriter<Note>, time: Res<SimTime>) {
    if time.tick() == COMMAND_TICK {
        commands.queue(|_: &mut World| panic!("command boom"));
    }
    out.send(Note(time.tick() * 10 + 2));
}

fn reader(
    notes: EventReader<Note>,
    markers: Query<(), With<Marker>>,
    time: Res<SimTime>,
    mut log: ResMut<Log>,
) {
    let seen = notes.iter().map(|note| note.0).collect();
    log.0.push((time.tick(), seen, markers.iter().count()));
}

fn executors() -> Vec<ExecutorKind> {
    vec![
        ExecutorKind::Sequential,
        ExecutorKind::parallel(2),
        ExecutorKind::forced_parallel(1),
        ExecutorKind::forced_parallel(2),
        ExecutorKind::forced_parallel(4),
    ]
}

fn build(executor: ExecutorKind) -> Engine {
    let mut app = App::new();
    app.set_executor(executor)
        .init_resource::<Log>()
        .init_resource::<ExclusiveRuns>()
        .insert_resource(Field(vec![0; 16 * FIELD_CHUNK]))
        .add_systems(first_tick_bomb)
        .add_systems(noisy.in_set(Spawners))
        .add_systems(exclusive_bomb)
        .add_systems(conditioned.run_if(bomb_condition))
        .add_systems(compute_bomb)
        .add_systems(command_bomb)
        .add_systems(reader);
    app.build().unwrap()
}

/// The errors of the first 30 ticks, by tick.
fn errors_of_the_first_ticks(engine: &mut Engine) -> Vec<(u64, TickError)> {
    (0..30)
        .filter_map(|tick| engine.tick().err().map(|error| (tick, error)))
        .collect()
}

fn panicked(system: &str, tick: u64, message: &str) -> TickError {
    TickError::SystemPanicked {
        system: system.into(),
        tick,
        message: message.into(),
    }
}

/// Everything the run kept, to compare executors.
#[derive(Debug, PartialEq, Eq)]
struct Kept {
    log: Vec<(u64, Vec<u64>, usize)>,
    field: Vec<u32>,
    exclusive_runs: u64,
}

fn kept(engine: &Engine) -> Kept {
    Kept {
        log: engine.world().resource::<Log>().0.clone(),
        field: engine.world().resource::<Field>().0.clone(),
        exclusive_runs: engine.world().resource::<ExclusiveRuns>().0,
    }
}

#[test]
fn every_panic_is_named_survived_and_kept_alike_on_every_executor() {
    let mut reference: Option<Kept> = None;
    for executor in executors() {
        let mut engine = build(executor);
        let errors = errors_of_the_first_ticks(&mut engine);
        let names: Vec<(u64, &str)> = errors.iter().map(|(t, e)| (*t, e.system())).collect();
        assert_eq!(
            names,
            vec![
                (FIRST_TICK, "first_tick_bomb"),
                (EXCLUSIVE_TICK, "exclusive_bomb"),
                (CONDITION_TICK, "conditioned"),
                (NOISY_TICK, "noisy"),
                (COMPUTE_TICK, "compute_bomb"),
                (COMMAND_TICK, "command_bomb"),
            ],
            "{executor:?}"
        );
        for (tick, error) in &errors {
            assert_eq!(error.tick(), *tick, "{executor:?}: {error}");
        }
        assert_eq!(
            errors[0].1,
            panicked("first_tick_bomb", 0, "boom at the first tick")
        );
        assert_eq!(
            errors[4].1,
            panicked("compute_bomb", COMPUTE_TICK, "chunk 3 boom")
        );
        assert!(
            matches!(&errors[5].1, TickError::CommandsPanicked { message, .. } if message.contains("command boom")),
            "{executor:?}: {}",
            errors[5].1
        );
        engine
            .run_ticks(1000)
            .expect("the engine runs on after every panic");
        let kept = kept(&engine);
        check_kept(&kept, executor);
        match &reference {
            None => reference = Some(kept),
            Some(reference) => assert!(&kept == reference, "{executor:?} kept something else"),
        }
    }
}

/// What each failing tick kept, as the crate docs promise.
fn check_kept(kept: &Kept, executor: ExecutorKind) {
    let seen = |tick: u64| &kept.log[tick as usize];
    // The reader ran in every tick, failing ones included.
    assert_eq!(kept.log.len(), 1030, "{executor:?}");
    // The noisy system's note of its failing tick is readable in the next tick only, and
    // its spawn of that tick was applied.
    assert!(
        seen(NOISY_TICK + 1).1.contains(&(NOISY_TICK * 10)),
        "{executor:?}"
    );
    assert!(
        !seen(NOISY_TICK + 2).1.contains(&(NOISY_TICK * 10)),
        "{executor:?}"
    );
    assert_eq!(
        seen(NOISY_TICK + 1).2,
        NOISY_TICK as usize + 2,
        "{executor:?}"
    );
    // The command that panicked did not hold back its system's note: tick + 1, not + 2.
    assert!(
        seen(COMMAND_TICK + 1).1.contains(&(COMMAND_TICK * 10 + 2)),
        "{executor:?}"
    );
    assert!(
        !seen(COMMAND_TICK + 2).1.contains(&(COMMAND_TICK * 10 + 2)),
        "{executor:?}"
    );
    // The system whose condition panicked did not run, so it wrote nothing that tick.
    assert!(
        !seen(CONDITION_TICK + 1)
            .1
            .contains(&(CONDITION_TICK * 10 + 1)),
        "{executor:?}"
    );
    // Every chunk but the one that panicked was done in the compute tick.
    let ticks = 1030;
    for (index, chunk) in kept.field.chunks(FIELD_CHUNK).enumerate() {
        let expected = if index == 3 { ticks - 1 } else { ticks };
        assert!(
            chunk.iter().all(|&x| x == expected),
            "{executor:?}: chunk {index}"
        );
    }
    assert_eq!(kept.exclusive_runs, 1030, "{executor:?}");
}

#[test]
fn a_mutex_poisoned_by_a_panicking_system_stays_poisoned() {
    #[derive(Resource, Clone, Default)]
    struct Shared(Arc<Mutex<u32>>);
    #[derive(Resource, Default)]
    struct Poisoned(Vec<u64>);
    fn hold_and_panic(shared: Res<Shared>, time: Res<SimTime>) {
        let mut value = shared
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *value += 1;
        assert!(time.tick() != 3, "panics while holding the lock");
    }
    fn check(shared: Res<Shared>, time: Res<SimTime>, mut poisoned: ResMut<Poisoned>) {
        if shared.0.is_poisoned() {
            poisoned.0.push(time.tick());
        }
    }
    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .init_resource::<Shared>()
            .init_resource::<Poisoned>()
            .add_systems(hold_and_panic)
            .add_systems(check.after(hold_and_panic));
        let mut engine = app.build().unwrap();
        assert!(engine.run_ticks(3).is_ok());
        assert!(engine.tick().is_err());
        engine.run_ticks(2).unwrap();
        // tickbus leaves the user's lock as the panic left it: poisoned from then on, with the
        // value the panicking system wrote.
        assert_eq!(
            engine.world().resource::<Poisoned>().0,
            vec![3, 4, 5],
            "{executor:?}"
        );
        let shared = engine.world().resource::<Shared>().0.clone();
        assert_eq!(*shared.lock().unwrap_or_else(|p| p.into_inner()), 6);
    }
}

//! Panics everywhere, on every executor: at the first tick, in an exclusive system, in a run
//! condition, in a system that already wrote events and queued spawns, inside a
//! `ComputePool` loop, and in a command applied at the end of the tick. Each error names the
//! system and the tick; every other system still runs in the failing tick; the engine runs
//! 1,000 more ticks; what of a failing tick is kept (the failing system's events, spawns,
//! chunks done) is the same on every executor and thread count, and kept events are readable
//! exactly in the next tick. On executors with workers, panics are proven to have happened
//! on worker threads too (a partner that only the driving thread may run waits for the
//! panicking system, which must then be on a worker), and a panic whose payload panics again
//! when dropped is contained wherever it happens.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread::ThreadId,
    time::{Duration, Instant},
};

use tickbus::{ComputePool, ExecutorKind, TickError, prelude::*};

/// Not `Send` (holds an `Rc`): a system that takes it runs on the driving thread only.
struct DriverOnly(#[allow(dead_code)] std::rc::Rc<()>);

/// Where panicking systems ran, and a meeting point with [`partner`].
#[derive(Resource, Clone, Default)]
struct PanicThreads {
    /// Whether the partner waits for the panicking systems (executors with workers).
    meet: bool,
    arrived: Arc<AtomicUsize>,
    threads: Arc<Mutex<Vec<ThreadId>>>,
}

impl PanicThreads {
    /// Called by a system about to panic.
    fn arrive(&self) {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.arrived.fetch_add(1, Ordering::SeqCst);
    }

    /// Called on the driving thread: waits (at most 20 s) until `count` panicking systems
    /// arrived, so the one of this tick runs on another thread.
    fn wait_for(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.meet && self.arrived.load(Ordering::SeqCst) < count && Instant::now() < deadline
        {
            std::hint::spin_loop();
        }
    }

    fn on_other_threads(&self, driver: ThreadId) -> usize {
        let threads = self.threads.lock().unwrap();
        threads.iter().filter(|&&t| t != driver).count()
    }
}

/// Runs beside the panicking systems of the first step, on the driving thread, and waits for
/// them in the ticks they panic.
fn partner(_: NonSend<DriverOnly>, panics: Res<PanicThreads>, time: Res<SimTime>) {
    match time.tick() {
        FIRST_TICK => panics.wait_for(1),
        NOISY_TICK => panics.wait_for(2),
        _ => {}
    }
}

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

fn first_tick_bomb(time: Res<SimTime>, panics: Res<PanicThreads>) {
    if time.tick() == FIRST_TICK {
        panics.arrive();
    }
    assert!(time.tick() != FIRST_TICK, "boom at the first tick");
}

/// Writes a note and spawns a marker every tick; panics after both in [`NOISY_TICK`].
fn noisy(
    mut out: EventWriter<Note>,
    mut commands: Commands,
    time: Res<SimTime>,
    panics: Res<PanicThreads>,
) {
    out.send(Note(time.tick() * 10));
    commands.spawn(Marker);
    if time.tick() == NOISY_TICK {
        panics.arrive();
    }
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

/// Executors whose workers must be seen running a panicking system.
fn with_workers(executor: ExecutorKind) -> bool {
    matches!(executor, ExecutorKind::Parallel(config)
        if config.threads > 1 && config.policy == tickbus::OffloadPolicy::Always)
}

fn build(executor: ExecutorKind) -> Engine {
    let mut app = App::new();
    app.set_executor(executor)
        .init_resource::<Log>()
        .init_resource::<ExclusiveRuns>()
        .insert_resource(PanicThreads {
            meet: with_workers(executor),
            ..PanicThreads::default()
        })
        .insert_non_send_resource(DriverOnly(std::rc::Rc::new(())))
        .insert_resource(Field(vec![0; 16 * FIELD_CHUNK]))
        .add_systems(first_tick_bomb)
        .add_systems(noisy.in_set(Spawners))
        .add_systems(partner)
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
        let panics = engine.world().resource::<PanicThreads>();
        assert_eq!(panics.arrived.load(Ordering::SeqCst), 2, "{executor:?}");
        if with_workers(executor) {
            assert_eq!(
                panics.on_other_threads(std::thread::current().id()),
                2,
                "{executor:?}: both panicked on a worker"
            );
        }
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

/// A panic payload whose `Drop` panics again, `depth` times.
struct Bomb(u32);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0 > 0 {
            std::panic::panic_any(Bomb(self.0 - 1));
        }
    }
}

fn throws_bomb(panics: Res<PanicThreads>) {
    panics.arrive();
    std::panic::panic_any(Bomb(2));
}

/// Waits for `throws_bomb` on the driving thread (if asked to), so that it runs on a worker.
fn waits_for_the_bomb(_: NonSend<DriverOnly>, panics: Res<PanicThreads>, time: Res<SimTime>) {
    panics.wait_for(time.tick() as usize + 1);
}

/// Ticks an engine whose system panics with a [`Bomb`] every tick, on a thread of its own:
/// the errors, how many panics ran on a worker, and whether dropping the engine finished.
fn tick_a_bomb(executor: ExecutorKind) -> (Vec<Result<(), String>>, usize) {
    let (report, reported) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut app = App::new();
        app.set_executor(executor)
            .insert_resource(PanicThreads {
                meet: with_workers(executor),
                ..PanicThreads::default()
            })
            .insert_non_send_resource(DriverOnly(std::rc::Rc::new(())))
            .add_systems((throws_bomb, waits_for_the_bomb));
        let mut engine = app.build().unwrap();
        let mut results = Vec::new();
        for _ in 0..4 {
            let tick = || engine.tick().map(|_| ()).map_err(|e| e.to_string());
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(tick)) {
                Ok(result) => results.push(result),
                Err(escaped) => {
                    std::mem::forget(escaped);
                    results.push(Err("the panic escaped tick()".to_owned()));
                }
            }
        }
        let panics = engine.world().resource::<PanicThreads>().clone();
        let on_workers = panics.on_other_threads(std::thread::current().id());
        report.send((results, on_workers)).unwrap();
        drop(engine);
        report.send((Vec::new(), 0)).unwrap();
    });
    let ticked = reported
        .recv_timeout(Duration::from_secs(120))
        .expect("the ticks finished");
    reported
        .recv_timeout(Duration::from_secs(60))
        .expect("dropping the engine finished");
    ticked
}

#[test]
fn a_panic_whose_payload_panics_when_dropped_is_contained_on_every_thread() {
    for executor in executors() {
        let (results, on_workers) = tick_a_bomb(executor);
        for (tick, result) in results.iter().enumerate() {
            let expected = format!(
                "system throws_bomb panicked in tick {tick}: panic with a non-string payload"
            );
            assert_eq!(result, &Err(expected), "{executor:?}");
        }
        if with_workers(executor) {
            assert_eq!(
                on_workers, 4,
                "{executor:?}: every bomb went off on a worker"
            );
        }
    }
}

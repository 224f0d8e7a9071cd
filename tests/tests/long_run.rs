//! A long run of a game that spawns and despawns thousands of entities, fires timers, moves
//! bodies with contacts and writes and reads events every tick, on the sequential and the
//! parallel executor: memory stays flat and steady ticks allocate nothing, physics included,
//! on any thread.
//!
//! Runs without the test harness (`harness = false`, the counting allocator sees every
//! thread). By default `main` runs a short version (1,500 ticks, live heap bytes and
//! allocations counted exactly). The long version, which checks the same things, is ignored
//! unless asked for:
//!
//! ```text
//! cargo test --release -p tickbus-tests --test long_run -- --ignored
//! TICKBUS_LONG_RUN_TICKS=100000 cargo test --release -p tickbus-tests --test long_run -- --ignored
//! ```
//!
//! It runs 1,000,000 ticks (or `TICKBUS_LONG_RUN_TICKS`) per executor and prints resident
//! memory at 10%, 50% and 100% of the run, allocations per steady tick and ticks per
//! second (the figures in RELIABILITY.md).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    thread,
    time::{Duration, Instant},
};

use tickbus::{
    ComputePool, ExecutorKind, ExecutorTotals,
    physics::{Aabb, Body, Collider, ContactStarted, PhysicsConfig, PhysicsPlugin, Vec2},
    prelude::*,
    timer::{TimerAppExt, TimerFired, Timers},
};
use tickbus_tests::{
    alloc_count::{Counting, allocations_during, live_bytes},
    resident_kib,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Entities spawned per tick; each lives `LIFETIME` ticks, so about 2,000 are alive.
const SPAWNS_PER_TICK: u64 = 20;
const LIFETIME: u64 = 100;
const ARENA: f32 = 60.0;
/// Ticks of the short version (in the normal suite, a debug build).
const SHORT_TICKS: u64 = 1_500;

#[derive(Component)]
struct Expires(u64);

#[derive(Debug, Clone, Copy)]
struct Ping(u64);

/// What the readers saw, so the work cannot be optimised away and the test can check it.
#[derive(Resource, Default, Debug)]
struct Seen {
    pings: u64,
    contacts: u64,
    timers: u64,
}

/// The slow loop of [`spread`]: its chunks, and how many of them ran off the calling thread.
#[derive(Resource, Debug)]
struct Spread {
    chunks: [(); 8],
    chunks_elsewhere: u64,
}

/// Ticks between two runs of [`spread`].
const SPREAD_EVERY: u64 = 10;

/// A fixed pseudo-random sequence (no state shared with anything else).
fn scatter(tick: u64, i: u64) -> (f32, f32) {
    let mixed = (tick * 31 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let x = (mixed >> 40) as f32 / (1u64 << 24) as f32;
    let y = ((mixed >> 16) & 0xFF_FFFF) as f32 / (1u64 << 24) as f32;
    ((x - 0.5) * ARENA, (y - 0.5) * ARENA)
}

/// Spawns bodies (which collide) and despawns those whose time is up.
fn spawn_and_expire(mut commands: Commands, living: Query<(Entity, &Expires)>, time: Res<SimTime>) {
    let tick = time.tick();
    for (entity, expires) in &living {
        if expires.0 <= tick {
            commands.entity(entity).despawn();
        }
    }
    for i in 0..SPAWNS_PER_TICK {
        let (x, y) = scatter(tick, i);
        let (vx, vy) = scatter(tick + 1, i);
        commands.spawn((
            Expires(tick + LIFETIME),
            Body::new(Vec2::new(x, y), Vec2::new(vx, vy) * 0.2),
            Collider::circle(0.8),
        ));
    }
}

/// A repeating timer from the first tick, and a one-shot timer scheduled every tick.
fn schedule_timers(mut timers: Timers<u32>, time: Res<SimTime>) {
    if time.tick() == 0 {
        timers.repeat_every_ticks(7, 0);
    }
    timers.once_after_ticks(5, 1);
}

/// Every `SPREAD_EVERY` ticks, a loop on the engine's pool slow enough to be shared with its
/// workers (as the physics loops are), counting the chunks that ran off the calling thread:
/// proof that the pool's helpers worked during the counted ticks. An exclusive system, so
/// that no other system keeps the workers busy meanwhile.
fn spread(world: &mut World) {
    if !world
        .resource::<SimTime>()
        .tick()
        .is_multiple_of(SPREAD_EVERY)
    {
        return;
    }
    let pool = world.resource::<ComputePool>().clone();
    let mut spread = world.resource_mut::<Spread>();
    let caller = thread::current().id();
    let elsewhere = AtomicU64::new(0);
    // The parallel run uses `OffloadPolicy::Always`, under which the pool offers every loop
    // to its idle workers; the caller's later chunks wait (up to a deadline, so a sequential
    // run is not held up for long) until a worker took one, so that the proof does not depend
    // on the machine's load.
    let deadline = Instant::now() + Duration::from_millis(50);
    pool.for_each_chunk_mut(&mut spread.chunks, 1, |index, _| {
        let until = Instant::now() + Duration::from_micros(30);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        if thread::current().id() != caller {
            elsewhere.fetch_add(1, Ordering::Relaxed);
        } else if index > 0 && pool.threads() > 1 {
            while elsewhere.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
                std::hint::spin_loop();
            }
        }
    });
    spread.chunks_elsewhere += elsewhere.into_inner();
}

fn ping(mut out: EventWriter<Ping>, time: Res<SimTime>) {
    out.send_batch((0..8).map(|i| Ping(time.tick() + i)));
}

fn observe(
    pings: EventReader<Ping>,
    contacts: EventReader<ContactStarted>,
    fired: EventReader<TimerFired<u32>>,
    mut seen: ResMut<Seen>,
) {
    seen.pings += pings.iter().map(|p| p.0 & 1).sum::<u64>() + pings.len() as u64;
    seen.contacts += contacts.len() as u64;
    seen.timers += fired.len() as u64;
}

fn game(executor: ExecutorKind) -> Engine {
    let mut app = App::new();
    app.set_executor(executor)
        .add_timers::<u32>()
        .init_resource::<Seen>()
        .insert_resource(Spread {
            chunks: [(); 8],
            chunks_elsewhere: 0,
        })
        .add_systems((
            spawn_and_expire.in_set(Spawners),
            schedule_timers,
            ping,
            observe,
            spread,
        ));
    let half = Vec2::splat(ARENA / 2.0 + 1.0);
    app.add_plugins(PhysicsPlugin::new(PhysicsConfig {
        bounds: Some(Aabb::new(-half, half)),
        resolve: true,
        ..PhysicsConfig::default()
    }));
    app.build().unwrap()
}

/// Memory at one point of the run.
#[derive(Clone, Copy, Debug)]
struct Mark {
    tick: u64,
    resident_kib: u64,
    live_bytes: isize,
}

/// What one run measured.
#[derive(Debug)]
struct Measured {
    marks: Vec<Mark>,
    allocations_per_tick: f64,
    ticks_per_second: f64,
    /// How the systems ran in the counted ticks.
    counted_ticks_ran: ExecutorTotals,
    /// Chunks of pool loops that ran off the calling thread in the counted ticks.
    counted_chunks_elsewhere: u64,
}

/// Runs `ticks` ticks, marking memory at 10%, 50% and 100%, and counts the allocations of
/// the last `counted` ticks.
fn long_run(executor: ExecutorKind, ticks: u64, counted: u64) -> Measured {
    let mut engine = game(executor);
    let started = Instant::now();
    let mut marks = Vec::new();
    let mut done = 0;
    for percent in [10, 50, 100] {
        let until = ticks * percent / 100 - if percent == 100 { counted } else { 0 };
        engine.run_ticks(until - done).unwrap();
        done = until;
        if percent < 100 {
            marks.push(mark(&engine));
        }
    }
    let before = engine.executor_totals();
    let chunks_before = engine.world().resource::<Spread>().chunks_elsewhere;
    let (allocations, ()) = allocations_during(|| engine.run_ticks(counted).unwrap());
    let after = engine.executor_totals();
    let chunks_elsewhere = engine.world().resource::<Spread>().chunks_elsewhere - chunks_before;
    marks.push(mark(&engine));
    let elapsed = started.elapsed().as_secs_f64();
    let seen = engine.world().resource::<Seen>();
    assert!(seen.pings > 0 && seen.timers > ticks / 2, "{seen:?}");
    assert!(seen.contacts > ticks, "bodies touch every tick: {seen:?}");
    Measured {
        marks,
        allocations_per_tick: allocations as f64 / counted as f64,
        ticks_per_second: ticks as f64 / elapsed,
        counted_ticks_ran: ExecutorTotals {
            ticks: after.ticks - before.ticks,
            systems_on_workers: after.systems_on_workers - before.systems_on_workers,
            ticks_with_overlap: after.ticks_with_overlap - before.ticks_with_overlap,
            peak_running: after.peak_running,
        },
        counted_chunks_elsewhere: chunks_elsewhere,
    }
}

fn mark(engine: &Engine) -> Mark {
    Mark {
        tick: engine.tick_count(),
        resident_kib: resident_kib(),
        live_bytes: live_bytes(),
    }
}

/// Live heap bytes at the end are those at 10% of the run, give or take `slack` bytes
/// (allocator-independent, unlike resident memory).
fn assert_flat(what: &str, measured: &Measured, slack: isize) {
    let first = measured.marks[0];
    for later in &measured.marks[1..] {
        let growth = later.live_bytes - first.live_bytes;
        assert!(
            growth.abs() <= slack,
            "{what}: {growth} more live heap bytes at tick {} than at tick {}: {measured:?}",
            later.tick,
            first.tick
        );
    }
}

fn executors() -> [(&'static str, ExecutorKind); 2] {
    [
        ("sequential", ExecutorKind::Sequential),
        ("parallel x2", ExecutorKind::forced_parallel(2)),
    ]
}

/// What both versions check: live heap bytes flat within `slack`, no allocation in the
/// counted (steady) ticks, and on the parallel executor, systems ran on its worker and beside
/// each other in those ticks and the pool's loops were shared with other threads (so the
/// allocations of the workers, as systems and as helpers of loops, were counted too).
fn assert_flat_and_allocation_free(name: &str, measured: &Measured, slack: isize) {
    assert_flat(name, measured, slack);
    assert_eq!(
        measured.allocations_per_tick, 0.0,
        "{name}: steady ticks allocate nothing, physics included: {measured:?}"
    );
    let ran = measured.counted_ticks_ran;
    if name != "sequential" {
        assert!(
            ran.systems_on_workers > 0 && ran.ticks_with_overlap > 0,
            "{name}: the workers ran systems beside the driving thread in the counted ticks: \
             {measured:?}"
        );
        assert!(
            measured.counted_chunks_elsewhere > 0,
            "{name}: chunks of pool loops ran on other threads in the counted ticks: \
             {measured:?}"
        );
    }
}

/// The short version, in the normal suite.
fn short_run_is_flat_and_steady_ticks_allocate_nothing() {
    for (name, executor) in executors() {
        let measured = long_run(executor, SHORT_TICKS, 300);
        assert_flat_and_allocation_free(name, &measured, 256 * 1024);
        println!(
            "long_run (short): {name}: {:.1} allocations per steady tick, {:?}, {} loop \
             chunks off the calling thread",
            measured.allocations_per_tick,
            measured.counted_ticks_ran,
            measured.counted_chunks_elsewhere
        );
    }
}

/// The long version (ignored unless `--ignored` is given): prints the figures.
fn long_run_is_flat_and_steady_ticks_allocate_nothing() {
    let ticks = std::env::var("TICKBUS_LONG_RUN_TICKS")
        .ok()
        .and_then(|ticks| ticks.parse().ok())
        .unwrap_or(1_000_000);
    for (name, executor) in executors() {
        let measured = long_run(executor, ticks, 10_000.min(ticks / 10));
        for mark in &measured.marks {
            println!(
                "long_run: {name}: tick {:>9}: resident {:>7} KiB, live heap {:>10} bytes",
                mark.tick, mark.resident_kib, mark.live_bytes
            );
        }
        println!(
            "long_run: {name}: {:.1} allocations per steady tick, {:.0} ticks per second, \
             counted ticks: {:?}, {} loop chunks off the calling thread",
            measured.allocations_per_tick,
            measured.ticks_per_second,
            measured.counted_ticks_ran,
            measured.counted_chunks_elsewhere
        );
        assert_flat_and_allocation_free(name, &measured, 1024 * 1024);
        let (first, last) = (measured.marks[0], measured.marks[2]);
        assert!(
            last.resident_kib <= first.resident_kib + 16 * 1024,
            "{name}: resident memory grew from {} KiB to {} KiB",
            first.resident_kib,
            last.resident_kib
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ignored = args
        .iter()
        .any(|arg| arg == "--ignored" || arg == "--include-ignored");
    if args.iter().any(|arg| arg == "--list") {
        return;
    }
    if !ignored || args.iter().any(|arg| arg == "--include-ignored") {
        short_run_is_flat_and_steady_ticks_allocate_nothing();
        println!("long_run: short run is flat, steady ticks allocate nothing ... ok");
    }
    if ignored {
        long_run_is_flat_and_steady_ticks_allocate_nothing();
        println!("long_run: long run is flat, steady ticks allocate nothing ... ok");
    } else {
        println!("long_run: long run ... ignored (pass --ignored)");
    }
}

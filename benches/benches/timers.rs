//! Benchmark `timers`: the per-tick cost of timers with 100,000 pending.
//!
//! Each engine holds 100,000 timers that never come due during the run (scheduled far in the
//! future before measuring), and a system re-arms `D` timers every tick with a delay of one
//! tick, so in steady state `D` timers are applied, come due and are read in every tick
//! (D = 0, 100, 10,000). A reader system sums the payloads of the fired timers.
//!
//! * `timers/pending_100k/{D}`: one [`Engine::tick`] (sequential executor, so the figures are
//!   the timer work and not thread hand-offs).
//! * `timers/empty_wheel/0`: the same app and systems with no timer pending: the baseline. The
//!   issue asks that 100k pending timers cost nothing when none is due: compare
//!   `pending_100k/0` with it.
//! * `timers/no_timers/0`: an app without timers at all (the floor of an empty tick).
//!
//! `Throughput::Elements(D)` (due timers per tick) where `D > 0`.
//!
//! Run: `CARGO_TARGET_DIR=target-bench cargo bench -p tickbus-benches --bench timers --
//! --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use bevy_ecs::prelude::{Res, ResMut, Resource};
use criterion::{BenchmarkId, Criterion, Throughput};
use tickbus::timer::{TimerAppExt, TimerFired, TimerWheel, Timers};
use tickbus::{App, Engine, EventReader, ExecutorKind};

/// Timers pending during the whole run.
const PENDING: u32 = 100_000;
/// Far enough that no background timer comes due while measuring.
const NEVER: u64 = 1 << 40;

/// How many timers the re-arming system schedules per tick, and how many background timers
/// are scheduled in tick 0.
#[derive(Resource)]
struct Load {
    due_per_tick: u32,
    background: u32,
}

#[derive(Resource, Default)]
struct Sum(u64);

fn schedule_background(mut timers: Timers<u32>, load: Res<Load>) {
    for i in 0..load.background {
        timers.once_after_ticks(NEVER + u64::from(i), i);
    }
}

fn rearm(mut timers: Timers<u32>, load: Res<Load>) {
    for i in 0..load.due_per_tick {
        timers.once_after_ticks(1, i);
    }
}

fn read(fired: EventReader<TimerFired<u32>>, mut sum: ResMut<Sum>) {
    sum.0 += fired.iter().map(|f| u64::from(f.payload)).sum::<u64>();
}

fn engine(due_per_tick: u32, background: u32, with_timers: bool) -> Engine {
    let mut app = App::new();
    app.set_executor(ExecutorKind::Sequential)
        .insert_resource(Load {
            due_per_tick,
            background,
        })
        .init_resource::<Sum>();
    if with_timers {
        app.add_timers::<u32>()
            .add_startup_systems(schedule_background)
            .add_systems(rearm)
            .add_systems(read);
    }
    let mut engine = app.build().expect("a valid app");
    engine.run_ticks(3).expect("warm-up ticks");
    if with_timers {
        let pending = engine.world().resource::<TimerWheel<u32>>().len();
        // Between ticks the re-armed timers have fired: only the background is pending.
        assert_eq!(pending, background as usize, "steady state");
    }
    engine
}

fn timers(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers");
    let baselines = [
        ("no_timers", engine(0, 0, false)),
        ("empty_wheel", engine(0, 0, true)),
    ];
    for (name, mut baseline) in baselines {
        group.bench_function(BenchmarkId::new(name, 0), |b| {
            b.iter(|| black_box(baseline.tick().expect("tick")).tick)
        });
    }
    for due in [0u32, 100, 10_000] {
        if due > 0 {
            group.throughput(Throughput::Elements(u64::from(due)));
        }
        let mut engine = engine(due, PENDING, true);
        group.bench_function(BenchmarkId::new("pending_100k", due), |b| {
            b.iter(|| black_box(engine.tick().expect("tick")).tick)
        });
        let fired = engine.world().resource::<TimerWheel<u32>>().fired_total();
        assert!(due == 0 || fired > 0, "timers fired during the run");
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    timers(&mut criterion);
    criterion.final_summary();
}

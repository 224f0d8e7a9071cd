//! Benchmark `schedule`: what running systems costs, and what parallelism gains.
//!
//! Contenders, side by side in every group: tickbus's rayon executor on two threads
//! (`tickbus_par2`), tickbus's sequential executor (`tickbus_seq`), and a bevy `Schedule` with
//! `SingleThreadedExecutor` (`bevy_single`) or `MultiThreadedExecutor` (`bevy_multi`, on
//! bevy_tasks' `ComputeTaskPool`). One iteration is one frame (`Engine::tick` /
//! `Schedule::run`), measured after 300 warm-up frames so tickbus's executor knows every
//! system's average run time.
//!
//! * `schedule_overhead/{independent,conflicting}/{10,50,200}`: the cost of a tick itself.
//!   Trivial systems (bump a counter), either all independent (each its own `Local`) or all
//!   conflicting (each `ResMut` of one resource). Throughput counts systems run.
//! * `schedule_busy/{4x100us,10x20us}`: independent systems doing a fixed amount of integer
//!   work (calibrated once to take about 100 µs / 20 µs): the speedup of two threads.
//! * `schedule_ecs_bench_suite`: the "schedule" workload of rust-gamedev/ecs_bench_suite:
//!   10,000 entities each of (A,B), (A,B,C), (A,B,C,D), (A,B,C,E); systems `ab`, `cd`, `ce`
//!   swap the fields of two components (`ab` is independent, `cd` and `ce` conflict on C).
//!
//! Run: `CARGO_TARGET_DIR=target-bench cargo bench -p tickbus-benches --bench schedule --
//! --warm-up-time 1 --measurement-time 3` (append a filter such as `schedule_busy` to run one
//! part).

use std::{hint::black_box, time::Duration};

use bevy_ecs::prelude::{Component, Local, Query, ResMut, Resource};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use tickbus_benches::{Builder, Contender, Sim, spin_iterations};

/// Systems per frame in the overhead groups.
const SYSTEM_COUNTS: [usize; 3] = [10, 50, 200];

/// Measures one frame of every contender's `build(contender)` in `group`.
fn bench_contenders(group: &mut BenchmarkGroup<'_, WallTime>, build: impl Fn(Contender) -> Sim) {
    for contender in Contender::ALL {
        let mut sim = build(contender);
        group.bench_function(BenchmarkId::from_parameter(contender.name()), |b| {
            b.iter(|| sim.frame())
        });
    }
}

/// The resource every conflicting system writes.
#[derive(Resource, Default)]
struct Counter(u64);

fn add_independent(builder: &mut Builder, count: usize) {
    for _ in 0..count {
        builder.add_systems(|mut runs: Local<u64>| {
            *runs += 1;
            black_box(*runs);
        });
    }
}

fn add_conflicting(builder: &mut Builder, count: usize) {
    builder.world_mut().init_resource::<Counter>();
    for _ in 0..count {
        builder.add_systems(|mut counter: ResMut<Counter>| counter.0 += 1);
    }
}

/// Adds `count` trivial systems to a workload.
type AddSystems = fn(&mut Builder, usize);

fn overhead(c: &mut Criterion) {
    let workloads: [(&str, AddSystems); 2] = [
        ("independent", add_independent),
        ("conflicting", add_conflicting),
    ];
    for (name, add) in workloads {
        for count in SYSTEM_COUNTS {
            let mut group = c.benchmark_group(format!("schedule_overhead/{name}/{count}"));
            group.throughput(Throughput::Elements(count as u64));
            bench_contenders(&mut group, |contender| {
                let mut builder = Builder::new(contender);
                add(&mut builder, count);
                builder.build_warm()
            });
            group.finish();
        }
    }
}

fn busy_sim(contender: Contender, count: usize, each: Duration) -> Sim {
    let iterations = spin_iterations(each);
    let mut builder = Builder::new(contender);
    for _ in 0..count {
        builder.add_systems(move |mut out: Local<u64>| {
            *out = out.wrapping_add(tickbus_benches::spin(iterations));
        });
    }
    builder.build_warm()
}

fn busy(c: &mut Criterion) {
    for (count, micros) in [(4, 100), (10, 20)] {
        let mut group = c.benchmark_group(format!("schedule_busy/{count}x{micros}us"));
        bench_contenders(&mut group, |contender| {
            busy_sim(contender, count, Duration::from_micros(micros))
        });
        group.finish();
    }
}

/// Components of the ecs_bench_suite workload.
#[derive(Component)]
struct A(f32);
/// Component B.
#[derive(Component)]
struct B(f32);
/// Component C.
#[derive(Component)]
struct C(f32);
/// Component D.
#[derive(Component)]
struct D(f32);
/// Component E.
#[derive(Component)]
struct E(f32);

fn ab(mut query: Query<(&mut A, &mut B)>) {
    for (mut a, mut b) in &mut query {
        std::mem::swap(&mut a.0, &mut b.0);
    }
}

fn cd(mut query: Query<(&mut C, &mut D)>) {
    for (mut c, mut d) in &mut query {
        std::mem::swap(&mut c.0, &mut d.0);
    }
}

fn ce(mut query: Query<(&mut C, &mut E)>) {
    for (mut c, mut e) in &mut query {
        std::mem::swap(&mut c.0, &mut e.0);
    }
}

fn ecs_bench_suite_sim(contender: Contender) -> Sim {
    const ENTITIES: usize = 10_000;
    let mut builder = Builder::new(contender);
    let world = builder.world_mut();
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0))));
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0), C(0.0))));
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0), C(0.0), D(0.0))));
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0), C(0.0), E(0.0))));
    builder.add_systems(ab).add_systems(cd).add_systems(ce);
    builder.build_warm()
}

fn ecs_bench_suite(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedule_ecs_bench_suite");
    bench_contenders(&mut group, ecs_bench_suite_sim);
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    overhead(&mut criterion);
    busy(&mut criterion);
    ecs_bench_suite(&mut criterion);
    criterion.final_summary();
}

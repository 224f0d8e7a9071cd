//! Benchmark `schedule`: what running systems costs, and what parallelism gains.
//!
//! Contenders, side by side in every group: tickbus's parallel executor on two threads
//! (`tickbus_par2`, adaptive as by default), tickbus's sequential executor (`tickbus_seq`),
//! and a bevy `Schedule` with `SingleThreadedExecutor` (`bevy_single`) or
//! `MultiThreadedExecutor` (`bevy_multi`, on bevy_tasks' `ComputeTaskPool`). One iteration is
//! one frame (`Engine::tick` / `Schedule::run`), measured after 300 warm-up frames so that
//! tickbus's executor knows every system's average run time and has measured its steps.
//!
//! * `schedule_overhead/{independent,conflicting}/{10,50,200,1000}`: the cost of a tick
//!   itself. Trivial systems (bump a counter), either all independent (each its own `Local`)
//!   or all conflicting (each `ResMut` of one resource). Throughput counts systems run.
//! * `schedule_busy/{n}x{W}us`, from 2 × 2 µs to 10 × 100 µs: `n` independent systems doing
//!   a fixed amount of integer work (calibrated once to take about W µs each): where two
//!   threads pay and where trying would cost more than it saves.
//! * `schedule_ecs_bench_suite`: the "schedule" workload of rust-gamedev/ecs_bench_suite.
//!
//! The workloads are in `benches/src/systems.rs`. Run:
//! `CARGO_TARGET_DIR=target-bench cargo bench -p tickbus-benches --bench schedule --
//! --warm-up-time 1 --measurement-time 3` (append a filter such as `schedule_busy` to run one
//! part); for the ratio table, `examples/ratios.rs`.

use criterion::{BenchmarkId, Criterion, Throughput};
use tickbus_benches::{Contender, cases::schedule_cases};

fn schedule(c: &mut Criterion) {
    for case in schedule_cases() {
        let mut group = c.benchmark_group(&case.group);
        if let Some(elements) = case.elements {
            group.throughput(Throughput::Elements(elements));
        }
        for contender in Contender::ALL {
            let mut sim = (case.build)(contender);
            group.bench_function(BenchmarkId::from_parameter(contender.name()), |b| {
                b.iter(|| sim.frame())
            });
        }
        group.finish();
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    schedule(&mut criterion);
    criterion.final_summary();
}

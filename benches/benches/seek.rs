//! Benchmark `seek`: going to a tick of the longest shipped scenario, `asteroids-long.ron`
//! (10,800 ticks, 3 minutes of play), with snapshots against replaying from tick 0.
//!
//! * `seek/replay_from_0/{tick}`: a freshly opened [`Timeline`] that keeps no snapshot but
//!   the one of tick 0 runs to `tick`: what reaching a tick costs without time travel.
//! * `seek/with_snapshots/{tick}`: a [`Timeline`] that went through the whole scenario once
//!   (default [`SnapshotPolicy`]: a snapshot every 60 ticks) seeks to `tick` from the other
//!   end of the scenario: one restore plus the ticks from the snapshot before `tick`.
//!
//! Ticks: 10,799 (the last one; 59 ticks after its snapshot, the worst case of an interval)
//! and 5,430 (the middle; 30 ticks after its snapshot). The ratio of the two lines for a tick
//! is the speed-up of seeking. Sequential executor, so the figures are the simulation's and
//! not thread hand-offs.
//!
//! Run: `CARGO_TARGET_DIR=target-bench cargo bench -p tickbus-benches --bench seek --
//! --warm-up-time 1 --measurement-time 5`.

use std::{
    hint::black_box,
    path::Path,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion};
use game_demo::game::Asteroids;
use tickbus::{
    ExecutorKind,
    replay::{GameScenario, Scenario, SnapshotPolicy, Timeline},
};

/// The ticks sought.
const TICKS: [u64; 2] = [10_799, 5_430];

fn longest_scenario() -> GameScenario<Asteroids> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/asteroids-long.ron");
    Scenario::load::<Asteroids>(&path).expect("scenarios/asteroids-long.ron loads")
}

fn seek(c: &mut Criterion) {
    let scenario = longest_scenario();
    let executor = ExecutorKind::Sequential;
    let mut group = c.benchmark_group("seek");
    group.sample_size(10);
    for tick in TICKS {
        group.bench_with_input(
            BenchmarkId::new("replay_from_0", tick),
            &tick,
            |b, &tick| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let no_snapshots = SnapshotPolicy::every(u64::MAX);
                        let mut timeline =
                            Timeline::<Asteroids>::open_with(&scenario, executor, no_snapshots)
                                .expect("it opens");
                        let started = Instant::now();
                        timeline.seek(tick).expect("the tick exists");
                        total += started.elapsed();
                        black_box(timeline.tick());
                    }
                    total
                });
            },
        );
        let mut timeline = Timeline::<Asteroids>::open(&scenario, executor).expect("it opens");
        timeline.seek(scenario.ticks).expect("the end exists");
        let elsewhere = if tick > scenario.ticks / 2 {
            0
        } else {
            scenario.ticks
        };
        group.bench_with_input(
            BenchmarkId::new("with_snapshots", tick),
            &tick,
            |b, &tick| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        timeline.seek(elsewhere).expect("it exists");
                        let started = Instant::now();
                        timeline.seek(tick).expect("the tick exists");
                        total += started.elapsed();
                        black_box(timeline.tick());
                    }
                    total
                });
            },
        );
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    seek(&mut criterion);
    criterion.final_summary();
}

//! Benchmark `event_throughput`: events per second through a whole frame.
//!
//! One frame of a 16-byte event type: one writer system sends N events (N = 1k, 10k, 100k,
//! 1M) and 1, 2 or 4 reader systems each checksum every event. Contenders, measured side by
//! side in the same group:
//!
//! * `tickbus_par2` / `tickbus_seq`: [`Engine::tick`](tickbus::Engine::tick) with the
//!   parallel executor on two threads (adaptive, as by default) / the sequential executor.
//!   The full tick path: the writer fills its private buffer, the buffer is merged into the
//!   queue, the queue swaps at the start of the next tick, and the readers read it there.
//! * `bevy_single` / `bevy_multi`: bevy_ecs's own `Messages` with `MessageWriter` and
//!   `MessageReader` systems in a bevy `Schedule` (single- / multi-threaded executor), with
//!   `message_update_system` running first in every frame and the readers after the writer.
//! * `raw_vec`: the floor: a reused `Vec` cleared, filled by N pushes, then one read pass per
//!   reader.
//!
//! Every contender is checked once after its warm-up: each reader must have summed exactly
//! the events written. Groups are `event_throughput/{readers}_readers/{N}`, one benchmark id
//! per contender, with `Throughput::Elements(N)`: criterion reports events per second. The
//! workload is in `benches/src/events.rs`.
//!
//! Run: `CARGO_TARGET_DIR=target-bench cargo bench -p tickbus-benches --bench event_throughput
//! -- --warm-up-time 1 --measurement-time 3` (append a filter such as `4_readers/1000000` to
//! run one group); for the ratio table, `examples/ratios.rs`.

use criterion::{BenchmarkId, Criterion, Throughput};
use tickbus_benches::{
    Contender,
    cases::event_cases,
    events::{READERS, RawVec, SIZES},
};

fn event_throughput(c: &mut Criterion) {
    let raw_floors = READERS
        .into_iter()
        .flat_map(|readers| SIZES.into_iter().map(move |size| (readers, size)));
    for (case, (readers, size)) in event_cases().into_iter().zip(raw_floors) {
        let mut group = c.benchmark_group(&case.group);
        group.throughput(Throughput::Elements(size as u64));
        if size >= 100_000 {
            group.sample_size(20);
        }
        for contender in Contender::ALL {
            let mut sim = (case.build)(contender);
            group.bench_function(BenchmarkId::from_parameter(contender.name()), |b| {
                b.iter(|| sim.frame())
            });
        }
        let mut raw = RawVec::new(readers, size);
        group.bench_function(BenchmarkId::from_parameter("raw_vec"), |b| {
            b.iter(|| raw.frame())
        });
        group.finish();
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    event_throughput(&mut criterion);
    criterion.final_summary();
}

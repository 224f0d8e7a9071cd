//! Steady state allocates nothing: after warm-up, ticks that write, merge, swap and read a
//! fixed number of events (the readers behind a set's run condition, an event fold over
//! several chunks, and one over a batch large enough to be folded as it is written, also with
//! its writer merged at a sync point) make zero heap allocations on any thread, on the
//! sequential executor and on the parallel one with its workers really used (counted by a
//! global allocator that only this test binary uses). The binary runs without the test harness
//! (`harness = false`), whose own threads would allocate meanwhile: `main` is the test.

use std::{
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use tickbus::{
    EventFoldSystems, EventQueue, ExecutorKind, ExecutorTotals, ParallelConfig,
    WRITE_FOLD_MIN_BYTES, fold_chunk_len, prelude::*,
};
use tickbus_tests::alloc_count::{Counting, allocations_during};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, Copy)]
struct Sample([u64; 2]);

#[derive(Resource, Default)]
struct Sum(u64);

#[derive(Resource, Default)]
struct Count(usize);

/// The readers, behind a run condition evaluated once per tick.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Readers;

fn not_the_end_of_time(time: Res<SimTime>) -> bool {
    time.tick() < u64::MAX
}

fn write_samples(mut out: EventWriter<Sample>, time: Res<SimTime>) {
    out.send_batch((0..500).map(|i| Sample([time.tick(), i])));
}

fn sum_samples(samples: EventReader<Sample>, mut sum: ResMut<Sum>) {
    sum.0 += samples.iter().map(|s| s.0[1]).sum::<u64>();
}

fn count_samples(samples: EventReader<Sample>, mut count: ResMut<Count>) {
    count.0 += samples.len();
}

/// Events for the fold: four fold chunks a tick, so that its loop is shared.
#[derive(Debug, Clone, Copy)]
struct Wide(u64);

#[derive(Resource, Default)]
struct WideSum(u64);

fn write_wide(mut out: EventWriter<Wide>) {
    out.send_batch((0..4 * fold_chunk_len::<Wide>() as u64).map(Wide));
}

/// Events of a batch folded as it is written: 64 bytes, the threshold and a short chunk more.
#[derive(Debug, Clone, Copy)]
struct Large([u64; 8]);

const LARGE_BATCH: u64 = (WRITE_FOLD_MIN_BYTES / size_of::<Large>()) as u64 + 100;

#[derive(Resource, Default)]
struct LargeSum(u64);

/// Calls of the fold of [`Large`] (each run of [`allocations_in_steady_state`] starts them at
/// 0): on full chunks while [`write_large`] writes its batch, on full chunks at other times,
/// and on the short last chunk. They show the batches were folded at write time and those
/// partials used, not folded again (the fold systems are ordered after the writer, so no
/// read-time fold runs while it writes).
static LARGE_FULL_FOLDS_WHILE_WRITING: AtomicUsize = AtomicUsize::new(0);
static LARGE_FULL_FOLDS: AtomicUsize = AtomicUsize::new(0);
static LARGE_SHORT_FOLDS: AtomicUsize = AtomicUsize::new(0);
static WRITING_LARGE: AtomicBool = AtomicBool::new(false);

fn write_large(mut out: EventWriter<Large>) {
    WRITING_LARGE.store(true, Ordering::SeqCst);
    out.send_batch((0..LARGE_BATCH).map(|i| Large([i; 8])));
    WRITING_LARGE.store(false, Ordering::SeqCst);
}

fn fold_large(large: &[Large]) -> u64 {
    if large.len() < fold_chunk_len::<Large>() {
        LARGE_SHORT_FOLDS.fetch_add(1, Ordering::Relaxed);
    } else {
        LARGE_FULL_FOLDS.fetch_add(1, Ordering::Relaxed);
        if WRITING_LARGE.load(Ordering::SeqCst) {
            LARGE_FULL_FOLDS_WHILE_WRITING.fetch_add(1, Ordering::Relaxed);
        }
    }
    large.iter().map(|l| l.0[7]).sum::<u64>()
}

/// Ticks in which the large batch was already merged when [`sync_point`] ran.
#[derive(Resource, Default)]
struct MergedBeforeSyncPoint(usize);

/// An exclusive system between [`write_large`] and its fold: the writer's buffer is merged
/// here, before the fold of the same tick runs, so its write-time partials wait in one slot
/// while the fold uses those of the other (the slots take turns).
fn sync_point(world: &mut World) {
    let pending = world.resource::<EventQueue<Large>>().pending().len();
    world.resource_mut::<MergedBeforeSyncPoint>().0 += usize::from(pending > 0);
}

/// Arrivals at the meeting of [`meet`] and [`meet_too`].
#[derive(Resource, Default)]
struct Meeting(AtomicUsize);

/// The first of the pair to arrive in a tick waits (at most 50 ms) for the second: on an
/// executor with workers, a tick where the second came in time ran them side by side.
fn meet(meeting: Res<Meeting>) {
    let order = meeting.0.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_millis(50);
    while order.is_multiple_of(2) && meeting.0.load(Ordering::SeqCst) == order + 1 {
        if Instant::now() > deadline {
            return;
        }
        std::hint::spin_loop();
    }
}

fn meet_too(meeting: Res<Meeting>) {
    meet(meeting);
}

/// What a steady-state run adds to the common workload.
#[derive(Clone, Copy, Debug, Default)]
struct Extras {
    /// The pair that meets (for executors with workers).
    meeting: bool,
    /// [`sync_point`] between the large batch's writer and its fold.
    sync_point: bool,
    /// The folds left unordered against the large batch's writer (the default of an app), so
    /// they may run beside it: then a read-time fold may run while it writes, and only the
    /// totals of the fold counters are checked.
    folds_unordered: bool,
}

/// Allocations on all threads during 200 warm ticks, and how the systems ran meanwhile.
fn allocations_in_steady_state(executor: ExecutorKind, extras: Extras) -> (usize, ExecutorTotals) {
    let mut app = App::new();
    // A bounded channel is a preallocated ring; an unbounded one allocates a block every
    // 31 messages (crossbeam's list flavour), which is the channel's cost, not the tick's.
    let input = app.add_source::<Sample>(SourceConfig::bounded(64));
    app.set_executor(executor)
        .init_resource::<Sum>()
        .init_resource::<Count>()
        .configure_sets(Readers.run_if(not_the_end_of_time))
        .add_systems(write_samples)
        .add_systems((sum_samples, count_samples).in_set(Readers))
        .add_systems(write_wide)
        .add_event_fold(
            |wide: &[Wide]| wide.iter().map(|w| w.0).sum::<u64>(),
            |sum: &mut WideSum, chunk_sum| sum.0 += chunk_sum,
        )
        .add_systems(write_large);
    if extras.sync_point {
        app.init_resource::<MergedBeforeSyncPoint>()
            .add_systems(sync_point);
    }
    if !extras.folds_unordered {
        // The folds run after the writer: while it writes, only write-time folds run (the
        // counters below tell them apart by that).
        app.configure_sets(EventFoldSystems.after(write_large));
    }
    app.add_event_fold(fold_large, |sum: &mut LargeSum, chunk_sum| {
        sum.0 += chunk_sum
    });
    if extras.meeting {
        app.init_resource::<Meeting>().add_systems((meet, meet_too));
    }
    let mut engine = app.build().unwrap();
    for _ in 0..50 {
        input.try_send(Sample([0, 1])).unwrap();
        engine.tick().unwrap();
    }
    let before = engine.executor_totals();
    for calls in [
        &LARGE_FULL_FOLDS_WHILE_WRITING,
        &LARGE_FULL_FOLDS,
        &LARGE_SHORT_FOLDS,
    ] {
        calls.store(0, Ordering::Relaxed);
    }
    let (allocations, ()) = allocations_during(|| {
        for _ in 0..200 {
            input.try_send(Sample([0, 1])).unwrap();
            engine.tick().unwrap();
        }
    });
    assert_eq!(engine.world().resource::<Count>().0, 250 * 500 - 500 + 250);
    let wide = 4 * fold_chunk_len::<Wide>() as u64;
    let wide_sum = 249 * (wide * (wide - 1) / 2);
    assert_eq!(engine.world().resource::<WideSum>().0, wide_sum, "the fold");
    let large_sum = 249 * (LARGE_BATCH * (LARGE_BATCH - 1) / 2);
    assert_eq!(
        engine.world().resource::<LargeSum>().0,
        large_sum,
        "the fold at write time"
    );
    // Each tick folds its batch's full chunks as it writes them and the short last chunk
    // of the previous tick's batch when it reads it: once per chunk.
    let full_chunks = LARGE_BATCH as usize / fold_chunk_len::<Large>();
    let folds = [
        &LARGE_FULL_FOLDS_WHILE_WRITING,
        &LARGE_FULL_FOLDS,
        &LARGE_SHORT_FOLDS,
    ]
    .map(|calls| calls.load(Ordering::Relaxed));
    let expected = [200 * full_chunks, 200 * full_chunks, 200];
    // Unordered folds may run while the writer writes: the first counter says nothing then.
    let from = usize::from(extras.folds_unordered);
    assert_eq!(
        folds[from..],
        expected[from..],
        "{executor:?}, {extras:?}: folds of full chunks while written, of full chunks, of \
         short chunks"
    );
    if extras.sync_point {
        let merged = engine.world().resource::<MergedBeforeSyncPoint>().0;
        assert_eq!(
            merged, 250,
            "every tick's batch was merged at the sync point"
        );
    }
    let after = engine.executor_totals();
    let warm = ExecutorTotals {
        ticks: after.ticks - before.ticks,
        systems_on_workers: after.systems_on_workers - before.systems_on_workers,
        ticks_with_overlap: after.ticks_with_overlap - before.ticks_with_overlap,
        peak_running: after.peak_running,
    };
    (allocations, warm)
}

fn main() {
    warm_ticks_allocate_nothing_on_any_thread();
    println!("zero_alloc: warm ticks allocate nothing on any thread ... ok");
}

fn warm_ticks_allocate_nothing_on_any_thread() {
    let (sequential, _) = allocations_in_steady_state(ExecutorKind::Sequential, Extras::default());
    assert_eq!(sequential, 0, "sequential");
    let at_sync_point = Extras {
        sync_point: true,
        ..Extras::default()
    };
    let (sequential, _) = allocations_in_steady_state(ExecutorKind::Sequential, at_sync_point);
    assert_eq!(sequential, 0, "sequential, a merge at a sync point");
    let inline_only = ExecutorKind::Parallel(ParallelConfig {
        threads: 2,
        offload_min: Duration::MAX,
        ..ParallelConfig::default()
    });
    let (inline, _) = allocations_in_steady_state(inline_only, Extras::default());
    assert_eq!(inline, 0, "parallel x2, everything inline");
    let configurations = [
        (2, false, false),
        (4, false, false),
        (2, true, false),
        (2, false, true),
    ];
    for (threads, sync_point, folds_unordered) in configurations {
        let extras = Extras {
            meeting: true,
            sync_point,
            folds_unordered,
        };
        let (parallel, ran) =
            allocations_in_steady_state(ExecutorKind::forced_parallel(threads), extras);
        assert_eq!(parallel, 0, "parallel x{threads}, {extras:?}: {ran:?}");
        // Proof that the counted ticks used the workers, not how often: on a busy machine a
        // worker may arrive after the driving thread gave up waiting for it.
        assert!(
            ran.systems_on_workers > 0 && ran.ticks_with_overlap > 0,
            "parallel x{threads}, {extras:?}: the workers ran systems beside the driving thread in the \
             counted ticks: {ran:?}"
        );
    }
}

//! Steady state allocates nothing: after warm-up, ticks that write, merge, swap and read a
//! fixed number of events make zero heap allocations (counted by a global allocator that only
//! this test binary uses).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicUsize, Ordering},
};

use std::time::Duration;

use tickbus::{ExecutorKind, ParallelConfig, prelude::*};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the thread that drives the ticks is counted: the pool's idle workers may still be
    /// finishing their own start-up.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.with(Cell::get)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, Copy)]
struct Sample([u64; 2]);

#[derive(Resource, Default)]
struct Sum(u64);

#[derive(Resource, Default)]
struct Count(usize);

fn write_samples(mut out: EventWriter<Sample>, time: Res<SimTime>) {
    out.send_batch((0..500).map(|i| Sample([time.tick(), i])));
}

fn sum_samples(samples: EventReader<Sample>, mut sum: ResMut<Sum>) {
    sum.0 += samples.iter().map(|s| s.0[1]).sum::<u64>();
}

fn count_samples(samples: EventReader<Sample>, mut count: ResMut<Count>) {
    count.0 += samples.len();
}

fn allocations_in_steady_state(executor: ExecutorKind) -> usize {
    let mut app = App::new();
    // A bounded channel is a preallocated ring; an unbounded one allocates a block every
    // 31 messages (crossbeam's list flavour), which is the channel's cost, not the tick's.
    let input = app.add_source::<Sample>(SourceConfig::bounded(64));
    app.set_executor(executor)
        .init_resource::<Sum>()
        .init_resource::<Count>()
        .add_systems(write_samples)
        .add_systems(sum_samples)
        .add_systems(count_samples);
    let mut engine = app.build().unwrap();
    for _ in 0..50 {
        input.try_send(Sample([0, 1])).unwrap();
        engine.tick().unwrap();
    }
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    for _ in 0..200 {
        input.try_send(Sample([0, 1])).unwrap();
        engine.tick().unwrap();
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(engine.world().resource::<Count>().0, 250 * 500 - 500 + 250);
    ALLOCATIONS.load(Ordering::SeqCst)
}

#[test]
fn warm_ticks_allocate_nothing() {
    assert_eq!(
        allocations_in_steady_state(ExecutorKind::Sequential),
        0,
        "sequential"
    );
    // When no system is worth handing to a worker, the rayon executor runs everything inline
    // and allocates nothing either. (Handing a system to a worker costs rayon a job box.)
    let inline_only = ExecutorKind::Parallel(ParallelConfig {
        threads: 2,
        offload_min: Duration::MAX,
        ..ParallelConfig::default()
    });
    assert_eq!(
        allocations_in_steady_state(inline_only),
        0,
        "rayon x2, inline"
    );
}

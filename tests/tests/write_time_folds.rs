//! Event folds of large batches, folded while the writer writes them
//! (`tickbus::WRITE_FOLD_MIN_BYTES`): every chunk is folded once, with the results a fold at
//! read time gives, bit for bit and on every executor; a write through the world that moves
//! the chunks drops the write-time results; a fold that panics at write time fails the tick
//! that reads the chunk; a writer that fails part-way through a batch leaves nothing waiting.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use tickbus::{
    ExecutorKind, TickError, WRITE_FOLD_MIN_BYTES, WorldEventsExt, fold_chunk_len, prelude::*,
};

/// A 64-byte event: 256 to a fold chunk, 65,536 to the write-time threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Wide {
    tick: u64,
    seq: u64,
    value: f64,
    pad: [u64; 5],
}

const _: () = assert!(size_of::<Wide>() == 64);

fn wide(tick: u64, seq: u64) -> Wide {
    // Order-sensitive float sums: large and small values mixed.
    let value = (tick.wrapping_mul(10_007).wrapping_add(seq)) as f64;
    let value = value.sin() * 1e3 + if seq.is_multiple_of(3) { 1e12 } else { 0.0 };
    Wide {
        tick,
        seq,
        value,
        pad: [seq; 5],
    }
}

/// Events a writer needs for its batch to be folded at write time.
fn threshold() -> u64 {
    (WRITE_FOLD_MIN_BYTES / size_of::<Wide>()) as u64
}

/// Events written per tick: large batches (with a short last chunk, and exact chunks), none,
/// and a small one folded at read time.
fn writes(tick: u64) -> u64 {
    let chunk = fold_chunk_len::<Wide>() as u64;
    [threshold() + 100, 0, threshold() + 2 * chunk, 1_000][tick as usize % 4]
}

/// What a fold saw of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkSeen {
    tick: u64,
    first_seq: u64,
    len: usize,
}

fn chunk_seen(chunk: &[Wide]) -> ChunkSeen {
    ChunkSeen {
        tick: chunk[0].tick,
        first_seq: chunk[0].seq,
        len: chunk.len(),
    }
}

#[derive(Resource, Default)]
struct Seen(Vec<ChunkSeen>);

#[derive(Resource, Default)]
struct Total(f64);

/// Counts shared between the writer and the folds.
#[derive(Default)]
struct Probe {
    /// True while the writer system is inside `send_batch`.
    writing: AtomicBool,
    /// Chunks folded while it was.
    folded_while_writing: AtomicUsize,
    /// Every call of the chunk-describing fold.
    calls: AtomicUsize,
}

/// A writer of `writes(tick)` events plus, on ticks where `world_write(tick)`, one event
/// written through the world before it merges; two folds.
fn app(executor: ExecutorKind, probe: &Arc<Probe>, world_write: fn(u64) -> bool) -> App {
    let mut app = App::new();
    let writer_probe = Arc::clone(probe);
    let fold_probe = Arc::clone(probe);
    app.set_executor(executor)
        .add_systems(move |world: &mut World| {
            let tick = world.resource::<SimTime>().tick();
            if world_write(tick) {
                world.send_event(wide(tick, u64::MAX));
            }
        })
        .add_systems(move |mut out: EventWriter<Wide>, time: Res<SimTime>| {
            let tick = time.tick();
            writer_probe.writing.store(true, Ordering::SeqCst);
            out.send_batch((0..writes(tick)).map(|seq| wide(tick, seq)));
            writer_probe.writing.store(false, Ordering::SeqCst);
        })
        .add_event_fold(
            move |chunk: &[Wide]| {
                fold_probe.calls.fetch_add(1, Ordering::Relaxed);
                if fold_probe.writing.load(Ordering::SeqCst) {
                    fold_probe
                        .folded_while_writing
                        .fetch_add(1, Ordering::Relaxed);
                }
                chunk_seen(chunk)
            },
            |seen: &mut Seen, chunk| seen.0.push(chunk),
        )
        .add_event_fold(
            |chunk: &[Wide]| chunk.iter().map(|w| w.value).sum::<f64>(),
            |total: &mut Total, sum| total.0 += sum,
        );
    app
}

fn no_world_writes(_: u64) -> bool {
    false
}

fn executors() -> Vec<ExecutorKind> {
    let mut executors = vec![ExecutorKind::Sequential, ExecutorKind::default()];
    executors.extend([1, 2, 4].map(ExecutorKind::forced_parallel));
    executors
}

/// The events pending at the end of `tick`: the world's write first, then the writer's.
fn pending(tick: u64, world_write: fn(u64) -> bool) -> Vec<Wide> {
    let from_world = world_write(tick).then(|| wide(tick, u64::MAX));
    from_world
        .into_iter()
        .chain((0..writes(tick)).map(|seq| wide(tick, seq)))
        .collect()
}

/// What the folds must have merged after ticks `0..ticks`: the chunks of every tick's events
/// but the last tick's (read in the next one), and their float sum chunk by chunk.
fn expected(ticks: u64, world_write: fn(u64) -> bool) -> (Vec<ChunkSeen>, f64) {
    let chunk_len = fold_chunk_len::<Wide>();
    let mut seen = Vec::new();
    let mut total = 0.0;
    for tick in 0..ticks - 1 {
        for chunk in pending(tick, world_write).chunks(chunk_len) {
            seen.push(chunk_seen(chunk));
            total += chunk.iter().map(|w| w.value).sum::<f64>();
        }
    }
    (seen, total)
}

const TICKS: u64 = 9;

/// Runs `TICKS` ticks and checks what the folds merged against [`expected`]; returns the
/// probe.
fn run_and_check(executor: ExecutorKind, world_write: fn(u64) -> bool) -> Arc<Probe> {
    let (expected_seen, expected_total) = expected(TICKS, world_write);
    let probe = Arc::new(Probe::default());
    let mut engine = app(executor, &probe, world_write).build().unwrap();
    engine.run_ticks(TICKS).unwrap();
    let world = engine.world();
    assert_eq!(world.resource::<Seen>().0, expected_seen, "{executor:?}");
    assert_eq!(
        world.resource::<Total>().0.to_bits(),
        expected_total.to_bits(),
        "{executor:?}"
    );
    probe
}

#[test]
fn large_batches_are_folded_while_written_once_per_chunk_as_read_time_folds_would() {
    let (expected_seen, expected_total) = expected(TICKS, no_world_writes);
    let in_one_pass: f64 = (0..TICKS - 1)
        .flat_map(|tick| pending(tick, no_world_writes))
        .map(|w| w.value)
        .sum();
    assert_ne!(
        expected_total.to_bits(),
        in_one_pass.to_bits(),
        "the values must be order-sensitive for this test to mean anything"
    );
    for executor in executors() {
        let probe = run_and_check(executor, no_world_writes);
        // Once per chunk: the read path skipped every chunk folded at write time. The last
        // tick's full chunks are folded already, to be merged in the next tick.
        let last_batch = writes(TICKS - 1);
        assert!(last_batch >= threshold());
        let folded_ahead = last_batch as usize / fold_chunk_len::<Wide>();
        assert_eq!(
            probe.calls.load(Ordering::Relaxed),
            expected_seen.len() + folded_ahead,
            "{executor:?}"
        );
        assert!(
            probe.folded_while_writing.load(Ordering::Relaxed) > 0,
            "{executor:?}: large batches are folded while they are written"
        );
    }
}

#[test]
fn a_world_write_before_the_merge_moves_the_chunks_and_they_are_folded_again() {
    // Tick 2's batch is folded at write time, then lands one event after the chunk grid.
    let world_write = |tick: u64| tick % 4 == 2;
    assert!(writes(2) >= threshold());
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let probe = run_and_check(executor, world_write);
        assert!(probe.folded_while_writing.load(Ordering::Relaxed) > 0);
    }
}

#[derive(Resource, Default)]
struct Counted(usize);

#[test]
fn a_fold_that_panics_at_write_time_fails_the_tick_that_reads_its_chunk() {
    let poison = threshold() / 2;
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let probe = Arc::new(Probe::default());
        let mut app = app(executor, &probe, no_world_writes);
        app.add_event_fold(
            move |chunk: &[Wide]| {
                let poisoned = chunk.iter().any(|w| w.tick == 2 && w.seq == poison);
                assert!(!poisoned, "poisoned event");
                chunk.len()
            },
            |counted: &mut Counted, len| counted.0 += len,
        );
        let mut engine = app.build().unwrap();
        engine.run_ticks(3).expect("ticks 0-2 run");
        let folded_while_writing = probe.folded_while_writing.load(Ordering::Relaxed);
        assert!(folded_while_writing > 0, "{executor:?}: tick 2's batch");
        match engine
            .run_ticks(1)
            .expect_err("tick 3 reads the poisoned event")
        {
            TickError::SystemPanicked {
                system,
                tick,
                message,
            } => {
                assert!(system.contains("event folds of"), "{system}");
                assert_eq!(tick, 3);
                assert!(message.contains("poisoned event"), "{message}");
            }
            other => panic!("{executor:?}: unexpected error {other}"),
        }
        let chunk_len = fold_chunk_len::<Wide>();
        let read = (writes(0) + writes(1) + writes(2)) as usize;
        let world = engine.world();
        assert_eq!(
            world.resource::<Counted>().0,
            read - chunk_len,
            "{executor:?}"
        );
        assert_eq!(world.resource::<Seen>().0, expected(4, no_world_writes).0);
    }
}

#[test]
fn a_writer_that_fails_part_way_through_a_large_batch_leaves_nothing_waiting() {
    let fail_at = threshold() / 3;
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let mut app = App::new();
        app.set_executor(executor)
            .add_systems(move |mut out: EventWriter<Wide>, time: Res<SimTime>| {
                let tick = time.tick();
                out.send_batch((0..threshold() + 10).map(|seq| {
                    assert!(tick != 1 || seq < fail_at, "the writer fails");
                    wide(tick, seq)
                }));
            })
            .add_event_fold(
                |chunk: &[Wide]| chunk_seen(chunk),
                |seen: &mut Seen, chunk| seen.0.push(chunk),
            );
        let mut engine = app.build().unwrap();
        engine.run_ticks(1).unwrap();
        let error = engine.run_ticks(1).expect_err("the writer fails in tick 1");
        assert!(
            matches!(error, TickError::SystemPanicked { tick: 1, .. }),
            "{executor:?}: {error}"
        );
        // The ticks after it write and fold as usual.
        engine.run_ticks(3).unwrap();
        let seen = &engine.world().resource::<Seen>().0;
        let chunks_of_tick = |tick: u64| seen.iter().filter(|c| c.tick == tick).count();
        let chunks = (threshold() + 10).div_ceil(fold_chunk_len::<Wide>() as u64) as usize;
        assert_eq!(chunks_of_tick(0), chunks, "{executor:?}");
        assert_eq!(chunks_of_tick(3), chunks, "{executor:?}");
    }
}

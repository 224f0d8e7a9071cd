//! Event folds of large batches, folded while the writer writes them
//! (`tickbus::WRITE_FOLD_MIN_BYTES`): every chunk is folded once, with the results a fold at
//! read time gives, bit for bit and on every executor; a write through the world that moves
//! the chunks drops the write-time results, and so do a fold set that skipped the tick and a
//! restored snapshot; a merge at a sync point before the folds keeps them for the next tick,
//! folding nothing twice; the workers fold chunks while the writer writes; a fold that panics
//! at write time fails the tick that reads the chunk; a writer that fails part-way through a
//! batch delivers what it sent and leaves nothing waiting.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread::ThreadId,
    time::{Duration, Instant},
};

use tickbus::{
    EventFoldSystems, EventQueue, ExecutorKind, TickError, WRITE_FOLD_MIN_BYTES, WorldEventsExt,
    fold_chunk_len,
    prelude::*,
    replay::{Game, RunSetup, Snapshot, StateHasher, build_game, state_hasher},
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
    /// The writer's thread and tick while it is inside `send_batch`.
    writer: Mutex<Option<(ThreadId, u64)>>,
    /// Chunks of the batch being written folded while it was (not chunks of earlier ticks,
    /// which the fold system may be folding at the same time).
    folded_while_writing: AtomicUsize,
    /// The same, on another thread than the writer's.
    folded_elsewhere: AtomicUsize,
    /// Every call of the chunk-describing fold.
    calls: AtomicUsize,
    /// Set: a chunk folded on the writer's thread waits (at most this long after its batch
    /// began) until another thread has folded one, so that a test of the helpers does not
    /// depend on which thread is quicker.
    wait_for_helpers: Option<Duration>,
    /// When the batch being written began.
    batch_began: Mutex<Option<Instant>>,
}

impl Probe {
    fn record_fold(&self, chunk: &[Wide]) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let writer = *self.writer.lock().unwrap();
        let Some((writer, _)) = writer.filter(|&(_, tick)| tick == chunk[0].tick) else {
            return;
        };
        self.folded_while_writing.fetch_add(1, Ordering::Relaxed);
        if writer != std::thread::current().id() {
            self.folded_elsewhere.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let began = *self.batch_began.lock().unwrap();
        let until = began
            .zip(self.wait_for_helpers)
            .map(|(began, wait)| began + wait);
        while until.is_some_and(|until| Instant::now() < until)
            && self.folded_elsewhere.load(Ordering::Relaxed) == 0
        {
            std::hint::spin_loop();
        }
    }
}

/// Adds a writer of `writes(tick)` events.
fn add_writer(app: &mut App, probe: &Arc<Probe>, writes: fn(u64) -> u64) {
    add_batch_writer(app, probe, move |tick| {
        (0..writes(tick)).map(move |seq| wide(tick, seq))
    });
}

/// Adds a writer that sends `batch(tick)` in one batch, telling `probe` while it writes.
fn add_batch_writer<I: Iterator<Item = Wide>>(
    app: &mut App,
    probe: &Arc<Probe>,
    batch: impl Fn(u64) -> I + Send + Sync + 'static,
) {
    let probe = Arc::clone(probe);
    app.add_systems(move |mut out: EventWriter<Wide>, time: Res<SimTime>| {
        let tick = time.tick();
        *probe.batch_began.lock().unwrap() = Some(Instant::now());
        *probe.writer.lock().unwrap() = Some((std::thread::current().id(), tick));
        out.send_batch(batch(tick));
        *probe.writer.lock().unwrap() = None;
    });
}

/// Adds the two folds: one describing each chunk, one summing the values.
fn add_folds(app: &mut App, probe: &Arc<Probe>) {
    let probe = Arc::clone(probe);
    app.add_event_fold(
        move |chunk: &[Wide]| {
            probe.record_fold(chunk);
            chunk_seen(chunk)
        },
        |seen: &mut Seen, chunk| seen.0.push(chunk),
    )
    .add_event_fold(
        |chunk: &[Wide]| chunk.iter().map(|w| w.value).sum::<f64>(),
        |total: &mut Total, sum| total.0 += sum,
    );
}

/// A writer of `writes(tick)` events plus, on ticks where `world_write(tick)`, one event
/// written through the world before it merges; two folds.
fn app(executor: ExecutorKind, probe: &Arc<Probe>, world_write: fn(u64) -> bool) -> App {
    let mut app = App::new();
    app.set_executor(executor)
        .add_systems(move |world: &mut World| {
            let tick = world.resource::<SimTime>().tick();
            if world_write(tick) {
                world.send_event(wide(tick, u64::MAX));
            }
        });
    add_writer(&mut app, probe, writes);
    add_folds(&mut app, probe);
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
    expected_of((0..ticks - 1).map(|tick| pending(tick, world_write)))
}

/// The chunks of each batch of `batches`, and their float sum chunk by chunk.
fn expected_of(batches: impl Iterator<Item = Vec<Wide>>) -> (Vec<ChunkSeen>, f64) {
    let chunk_len = fold_chunk_len::<Wide>();
    let mut seen = Vec::new();
    let mut total = 0.0;
    for batch in batches {
        for chunk in batch.chunks(chunk_len) {
            seen.push(chunk_seen(chunk));
            total += chunk.iter().map(|w| w.value).sum::<f64>();
        }
    }
    (seen, total)
}

/// The engine's merged results against `expected`.
fn assert_merged(engine: &Engine, expected: &(Vec<ChunkSeen>, f64), context: &str) {
    let world = engine.world();
    assert_eq!(world.resource::<Seen>().0, expected.0, "{context}");
    assert_eq!(
        world.resource::<Total>().0.to_bits(),
        expected.1.to_bits(),
        "{context}"
    );
}

const TICKS: u64 = 9;

/// Runs `TICKS` ticks and checks what the folds merged against [`expected`]; returns the
/// probe.
fn run_and_check(executor: ExecutorKind, world_write: fn(u64) -> bool) -> Arc<Probe> {
    let probe = Arc::new(Probe::default());
    let mut engine = app(executor, &probe, world_write).build().unwrap();
    engine.run_ticks(TICKS).unwrap();
    assert_merged(
        &engine,
        &expected(TICKS, world_write),
        &format!("{executor:?}"),
    );
    probe
}

/// Full chunks of the last tick's batch, which are folded already when `TICKS` ticks ran
/// (they are merged in the next tick).
fn folded_ahead() -> usize {
    let last_batch = writes(TICKS - 1);
    assert!(last_batch >= threshold());
    last_batch as usize / fold_chunk_len::<Wide>()
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
        // Once per chunk: the read path skipped every chunk folded at write time.
        assert_eq!(
            probe.calls.load(Ordering::Relaxed),
            expected_seen.len() + folded_ahead(),
            "{executor:?}"
        );
        assert!(
            probe.folded_while_writing.load(Ordering::Relaxed) > 0,
            "{executor:?}: large batches are folded while they are written"
        );
    }
}

/// Events of `tick` in a batch whose iterator promises only the first `threshold()` of them
/// (a filter hides the rest, twice as many, from its size hint): the buffer reserved for the
/// promise is full long before the batch ends in the first two ticks, whose buffers are new.
fn longer_than_promised(tick: u64) -> impl Iterator<Item = Wide> {
    let promised = threshold();
    let extra = 2 * promised + 7;
    (0..promised)
        .chain((promised..promised + extra).filter(|_| true))
        .map(move |seq| wide(tick, seq))
}

#[test]
fn a_batch_longer_than_its_size_hint_arrives_whole_and_in_order() {
    const TICKS: u64 = 4;
    for executor in executors() {
        let probe = Arc::new(Probe::default());
        let mut app = App::new();
        app.set_executor(executor);
        add_batch_writer(&mut app, &probe, longer_than_promised);
        add_folds(&mut app, &probe);
        let mut engine = app.build().unwrap();
        engine.run_ticks(TICKS).unwrap();
        let batches = (0..TICKS - 1).map(|tick| longer_than_promised(tick).collect());
        assert_merged(&engine, &expected_of(batches), &format!("{executor:?}"));
        // Events beyond the reserved buffer are appended without folding: had every batch
        // fit, every full chunk of every tick would have been folded while written.
        let full_chunks = longer_than_promised(0).count() / fold_chunk_len::<Wide>();
        let folded = probe.folded_while_writing.load(Ordering::Relaxed);
        assert!(
            folded > 0 && folded < TICKS as usize * full_chunks,
            "{executor:?}: {folded} chunks folded while written, of {}",
            TICKS as usize * full_chunks
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

#[test]
fn the_workers_fold_chunks_while_the_writer_writes() {
    let probe = Arc::new(Probe {
        wait_for_helpers: Some(Duration::from_millis(500)),
        ..Probe::default()
    });
    let budget = Instant::now() + Duration::from_secs(20);
    let mut engine = app(ExecutorKind::forced_parallel(2), &probe, no_world_writes)
        .build()
        .unwrap();
    // A worker that is late for one batch (a busy machine) may come for a later one.
    let mut ticks = 0;
    while ticks < TICKS
        || (probe.folded_elsewhere.load(Ordering::Relaxed) == 0 && Instant::now() < budget)
    {
        engine.run_ticks(1).unwrap();
        ticks += 1;
    }
    assert_merged(&engine, &expected(ticks, no_world_writes), "two threads");
    assert!(
        probe.folded_elsewhere.load(Ordering::Relaxed) > 0,
        "a worker folded chunks of the batch being written"
    );
}

/// One large batch in tick 1, small ones after: read by the folds only in ticks 0, 4 and 8.
fn writes_then_small(tick: u64) -> u64 {
    if tick == 1 {
        threshold() + 100
    } else {
        1_000 + tick
    }
}

fn every_fourth_tick(time: Res<SimTime>) -> bool {
    time.tick().is_multiple_of(4)
}

#[test]
fn partials_of_events_a_skipped_fold_set_never_read_are_not_used_later() {
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let probe = Arc::new(Probe::default());
        let mut app = App::new();
        app.set_executor(executor)
            .configure_sets(EventFoldSystems.run_if(every_fourth_tick));
        add_writer(&mut app, &probe, writes_then_small);
        add_folds(&mut app, &probe);
        let mut engine = app.build().unwrap();
        engine.run_ticks(TICKS).unwrap();
        assert!(probe.folded_while_writing.load(Ordering::Relaxed) > 0);
        // Tick 4 reads tick 3's events and tick 8 tick 7's; tick 1's are never read.
        let read = [3, 7].map(|tick| (0..writes_then_small(tick)).map(move |seq| wide(tick, seq)));
        let expected = expected_of(read.into_iter().map(Iterator::collect));
        assert_merged(&engine, &expected, &format!("{executor:?}"));
    }
}

#[test]
fn a_merge_at_a_sync_point_before_the_folds_keeps_its_partials_for_the_next_tick() {
    // A large batch every tick: the partials for the next tick arrive while this tick's wait.
    let always_large = |_: u64| threshold() + 100;
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let probe = Arc::new(Probe::default());
        let mut app = App::new();
        app.set_executor(executor);
        add_writer(&mut app, &probe, always_large);
        // An exclusive system between the writer and the folds applies the writer's buffer
        // there, before the folds of the same tick run.
        app.add_systems(|world: &mut World| {
            let pending = world.resource::<EventQueue<Wide>>().pending().len();
            assert!(
                pending > 0,
                "the writer's buffer was merged before this system"
            );
        });
        add_folds(&mut app, &probe);
        let mut engine = app.build().unwrap();
        engine.run_ticks(TICKS).unwrap();
        let batches = (0..TICKS - 1).map(|tick| {
            let events = always_large(tick);
            (0..events).map(|seq| wide(tick, seq)).collect()
        });
        let expected = expected_of(batches);
        assert_merged(&engine, &expected, &format!("{executor:?}"));
        let folded_ahead = always_large(TICKS - 1) as usize / fold_chunk_len::<Wide>();
        assert_eq!(
            probe.calls.load(Ordering::Relaxed),
            expected.0.len() + folded_ahead,
            "{executor:?}: no chunk folded twice"
        );
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
        let seen = expected(4, no_world_writes).0;
        assert_eq!(world.resource::<Seen>().0, seen);
        // Only the poisoned fold folds the poisoned chunk again, and the chunks after it.
        assert_eq!(
            probe.calls.load(Ordering::Relaxed),
            seen.len(),
            "{executor:?}"
        );
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
        // The events sent before the failure are delivered, and the ticks after it write and
        // fold as usual.
        engine.run_ticks(3).unwrap();
        let sent = |tick: u64| if tick == 1 { fail_at } else { threshold() + 10 };
        let batches = (0..4).map(|tick| (0..sent(tick)).map(|seq| wide(tick, seq)).collect());
        let seen = &engine.world().resource::<Seen>().0;
        assert_eq!(*seen, expected_of(batches).0, "{executor:?}");
    }
}

/// A sum of every event's tick and sequence number, hashed with the game's state.
#[derive(Resource, Default, Clone, Debug)]
struct LargeSum(u64);
tickbus::impl_stable_hash!(LargeSum { 0 });

/// A game writing a large batch every tick, folded into [`LargeSum`].
struct LargeBatches;

/// Calls of [`LargeBatches`]'s fold (one test uses the game).
static LARGE_FOLDS: AtomicUsize = AtomicUsize::new(0);

impl Game for LargeBatches {
    const NAME: &'static str = "large-batches";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.add_systems(|mut out: EventWriter<Wide>, time: Res<SimTime>| {
            let tick = time.tick();
            out.send_batch((0..threshold() + 100).map(|seq| wide(tick, seq)));
        })
        .add_event_fold(
            |chunk: &[Wide]| {
                LARGE_FOLDS.fetch_add(1, Ordering::Relaxed);
                let key = |w: &Wide| (w.tick << 32) ^ w.seq;
                chunk.iter().map(key).fold(0u64, u64::wrapping_add)
            },
            |sum: &mut LargeSum, chunk_sum| sum.0 = sum.0.wrapping_add(chunk_sum),
        );
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<LargeSum>().event::<Wide>();
    }
}

#[test]
fn a_restored_snapshot_folds_its_events_not_the_partials_of_later_ones() {
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let setup = RunSetup {
            seed: 1,
            tick_rate: 60,
            executor,
        };
        let state = state_hasher::<LargeBatches>();
        let (mut engine, _input) = build_game::<LargeBatches>(&(), setup).unwrap();
        LARGE_FOLDS.store(0, Ordering::Relaxed);
        engine.run_ticks(3).unwrap();
        let snapshot = Snapshot::capture(&mut engine, &state).unwrap();
        // Two more ticks leave partials of tick 4's batch waiting (folded already: each tick
        // folds one short chunk at read time); the restore puts tick 2's events back as the
        // pending ones.
        engine.run_ticks(2).unwrap();
        let chunks = (threshold() + 100) as usize / fold_chunk_len::<Wide>();
        assert_eq!(
            LARGE_FOLDS.load(Ordering::Relaxed),
            5 * chunks + 4,
            "{executor:?}"
        );
        snapshot.restore(&mut engine, &state).unwrap();
        engine.run_ticks(1).unwrap();
        let (mut fresh, _input) = build_game::<LargeBatches>(&(), setup).unwrap();
        fresh.run_ticks(4).unwrap();
        assert_eq!(
            engine.world().resource::<LargeSum>().0,
            fresh.world().resource::<LargeSum>().0,
            "{executor:?}"
        );
    }
}

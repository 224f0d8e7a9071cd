//! Event folds (`App::add_event_fold`): every fold sees every event of a tick once, a tick
//! late as readers do, merged in chunk order before later systems run; the result is bit for
//! bit the same on every executor and thread count; the chunks really run on several threads;
//! a fold that panics fails the tick without losing the other folds' results, and the
//! failure reported is the same on every executor; zero-sized events, one fold function
//! used twice, and snapshots of a game with folds; ordering against and pausing the folds
//! through their set.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread::ThreadId,
    time::{Duration, Instant},
};

use tickbus::{
    ExecutorKind, TickError, fold_chunk_len,
    prelude::*,
    replay::{Game, RunSetup, Snapshot, StateHasher, build_game, state_hasher},
};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    tick: u64,
    seq: u32,
    value: f64,
}

/// Events written per tick: empty ticks, one event, and counts around chunk boundaries.
fn writes(tick: u64) -> u32 {
    let chunk = u32::try_from(fold_chunk_len::<Sample>()).expect("a small chunk");
    [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + chunk / 2, 7][tick as usize % 7]
}

/// A value whose float sums depend on the order of addition.
fn value(tick: u64, seq: u32) -> f64 {
    let x = (tick * 10_007 + u64::from(seq)) as f64;
    x.sin() * 1e-3 + if seq.is_multiple_of(3) { 1e9 } else { 1.0 }
}

fn write_samples(mut out: EventWriter<Sample>, time: Res<SimTime>) {
    let tick = time.tick();
    out.send_batch((0..writes(tick)).map(|seq| Sample {
        tick,
        seq,
        value: value(tick, seq),
    }));
}

/// Every sample the copying fold merged, in merge order.
#[derive(Resource, Default)]
struct Copied(Vec<Sample>);

/// The float sum of every value, merged chunk by chunk.
#[derive(Resource, Default)]
struct Total(f64);

/// Per tick: how many samples a system added after the folds found merged.
#[derive(Resource, Default)]
struct SeenAfter(Vec<usize>);

fn app_with_folds(executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor)
        .add_systems(write_samples)
        .add_event_fold(
            |samples: &[Sample]| samples.to_vec(),
            |copied: &mut Copied, chunk: Vec<Sample>| copied.0.extend(chunk),
        )
        .add_event_fold(
            |samples: &[Sample]| samples.iter().map(|s| s.value).sum::<f64>(),
            |total: &mut Total, sum| total.0 += sum,
        )
        .init_resource::<SeenAfter>()
        .add_systems(|copied: Res<Copied>, mut seen: ResMut<SeenAfter>| {
            seen.0.push(copied.0.len());
        });
    app
}

fn executors() -> Vec<ExecutorKind> {
    let mut executors = vec![ExecutorKind::Sequential, ExecutorKind::default()];
    executors.extend([1, 2, 4].map(ExecutorKind::forced_parallel));
    executors
}

const TICKS: u64 = 15;

/// Samples written in ticks `0..ticks`, in order.
fn written_before(ticks: u64) -> Vec<Sample> {
    (0..ticks)
        .flat_map(|tick| {
            (0..writes(tick)).map(move |seq| Sample {
                tick,
                seq,
                value: value(tick, seq),
            })
        })
        .collect()
}

#[test]
fn every_fold_sees_every_event_once_a_tick_late_in_order_and_later_systems_see_the_merge() {
    for executor in executors() {
        let mut engine = app_with_folds(executor).build().expect("valid schedule");
        engine.run_ticks(TICKS).expect("ticks run");
        let world = engine.world();
        // The last tick's writes are readable only in the next tick.
        let expected = written_before(TICKS - 1);
        assert_eq!(world.resource::<Copied>().0, expected, "{executor:?}");
        let seen: Vec<usize> = world.resource::<SeenAfter>().0.clone();
        let merged_by_then: Vec<usize> = (0..TICKS).map(|t| written_before(t).len()).collect();
        assert_eq!(seen, merged_by_then, "{executor:?}: merged within the tick");
    }
}

#[test]
fn float_folds_are_bit_for_bit_the_same_on_every_executor_and_thread_count() {
    // The reference: each tick's values summed chunk by chunk, chunks added in order.
    let chunk_len = fold_chunk_len::<Sample>();
    let reference = (0..TICKS - 1).fold(0.0_f64, |total, tick| {
        let values: Vec<f64> = (0..writes(tick)).map(|seq| value(tick, seq)).collect();
        values
            .chunks(chunk_len)
            .fold(total, |total, chunk| total + chunk.iter().sum::<f64>())
    });
    let in_one_pass: f64 = written_before(TICKS - 1).iter().map(|s| s.value).sum();
    assert_ne!(
        reference.to_bits(),
        in_one_pass.to_bits(),
        "the values must be order-sensitive for this test to mean anything"
    );
    for executor in executors() {
        let mut engine = app_with_folds(executor).build().expect("valid schedule");
        engine.run_ticks(TICKS).expect("ticks run");
        let total = engine.world().resource::<Total>().0;
        assert_eq!(total.to_bits(), reference.to_bits(), "{executor:?}");
    }
}

/// Which threads ran a fold's chunks: the first chunk's thread, and how many chunks ran on
/// another.
#[derive(Default)]
struct ChunkThreads {
    first: Mutex<Option<ThreadId>>,
    elsewhere: AtomicUsize,
}

impl ChunkThreads {
    /// Records the chunk starting at `seq`; a later chunk on the first chunk's thread waits
    /// (bounded) until another thread has run one, so that the test does not depend on
    /// which thread is quicker to take chunks.
    fn record(&self, seq: u32) {
        let current = std::thread::current().id();
        let mut first = self.first.lock().expect("not poisoned");
        if seq == 0 {
            *first = Some(current);
            return;
        }
        let on_first = *first == Some(current);
        drop(first);
        if !on_first {
            self.elsewhere.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(100);
        while self.elsewhere.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            std::hint::spin_loop();
        }
    }
}

#[derive(Resource, Default)]
struct Folded(usize);

#[test]
fn the_chunks_of_a_fold_run_on_several_threads() {
    let threads = Arc::new(ChunkThreads::default());
    let chunks_seen = Arc::clone(&threads);
    let chunk_len = u32::try_from(fold_chunk_len::<Sample>()).expect("a small chunk");
    let mut app = App::new();
    app.set_executor(ExecutorKind::forced_parallel(2))
        .add_systems(move |mut out: EventWriter<Sample>, time: Res<SimTime>| {
            let tick = time.tick();
            out.send_batch((0..4 * chunk_len).map(|seq| Sample {
                tick,
                seq,
                value: 0.0,
            }));
        })
        .add_event_fold(
            move |samples: &[Sample]| {
                chunks_seen.record(samples[0].seq);
                samples.len()
            },
            |folded: &mut Folded, count| folded.0 += count,
        );
    let mut engine = app.build().expect("valid schedule");
    let mut ticks = 0;
    while threads.elsewhere.load(Ordering::Relaxed) == 0 && ticks < 200 {
        engine.run_ticks(1).expect("ticks run");
        ticks += 1;
    }
    assert!(
        threads.elsewhere.load(Ordering::Relaxed) > 0,
        "in {ticks} ticks, no chunk ran beside the first chunk's thread"
    );
    let folded = engine.world().resource::<Folded>().0;
    assert_eq!(
        folded,
        (ticks - 1) * 4 * chunk_len as usize,
        "every event once"
    );
}

#[derive(Resource, Default)]
struct Counted(usize);

#[test]
fn a_fold_that_panics_fails_the_tick_and_every_other_chunk_is_still_merged() {
    let poison_seq = 2 * fold_chunk_len::<Sample>() as u32 + 5;
    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .add_systems(|mut out: EventWriter<Sample>, time: Res<SimTime>| {
                let tick = time.tick();
                out.send_batch((0..writes(5)).map(|seq| Sample {
                    tick,
                    seq,
                    value: 0.0,
                }));
            })
            .add_event_fold(
                move |samples: &[Sample]| {
                    let poisoned = samples.iter().any(|s| s.tick == 2 && s.seq == poison_seq);
                    assert!(!poisoned, "poisoned sample");
                    samples.len()
                },
                |counted: &mut Counted, count| counted.0 += count,
            )
            .add_event_fold(
                |samples: &[Sample]| samples.len(),
                |copied: &mut Folded, count| copied.0 += count,
            );
        let mut engine = app.build().expect("valid schedule");
        let per_tick = writes(5) as usize;
        engine.run_ticks(3).expect("ticks 0-2 run");
        let error = engine
            .run_ticks(1)
            .expect_err("tick 3 reads the poisoned sample");
        match &error {
            TickError::SystemPanicked {
                system,
                tick,
                message,
            } => {
                assert!(system.contains("event folds of"), "{system}");
                assert_eq!(*tick, 3);
                assert!(message.contains("poisoned sample"), "{message}");
            }
            other => panic!("{executor:?}: unexpected error {other}"),
        }
        let world = engine.world();
        assert_eq!(world.resource::<Folded>().0, 3 * per_tick, "{executor:?}");
        let chunk_len = fold_chunk_len::<Sample>();
        assert_eq!(
            world.resource::<Counted>().0,
            3 * per_tick - chunk_len,
            "{executor:?}: all but the poisoned chunk"
        );
    }
}

/// An event that says where it is in its tick's batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Numbered {
    seq: u32,
}

#[derive(Resource, Default)]
struct Count(usize);

#[derive(Resource, Default)]
struct CountToo(usize);

fn write_chunks(chunks: u32) -> impl FnMut(EventWriter<Numbered>) {
    let len = u32::try_from(fold_chunk_len::<Numbered>()).expect("a small chunk");
    move |mut out: EventWriter<Numbered>| {
        out.send_batch((0..chunks * len).map(|seq| Numbered { seq }))
    }
}

fn chunk_of(samples: &[Numbered]) -> usize {
    samples[0].seq as usize / fold_chunk_len::<Numbered>()
}

#[test]
fn of_several_panicking_folds_and_chunks_the_lowest_chunk_and_first_fold_is_reported() {
    for executor in executors() {
        for _ in 0..5 {
            let mut app = App::new();
            app.set_executor(executor)
                .add_systems(write_chunks(8))
                .add_event_fold(
                    |samples: &[Numbered]| {
                        let chunk = chunk_of(samples);
                        assert!(chunk != 5 && chunk != 2, "first fold, chunk {chunk}");
                        samples.len()
                    },
                    |count: &mut Count, n| count.0 += n,
                )
                .add_event_fold(
                    |samples: &[Numbered]| {
                        let chunk = chunk_of(samples);
                        assert!(chunk != 2 && chunk != 7, "second fold, chunk {chunk}");
                        samples.len()
                    },
                    |count: &mut CountToo, n| count.0 += n,
                );
            let mut engine = app.build().expect("valid schedule");
            engine.run_ticks(1).expect("tick 0 reads nothing");
            match engine.run_ticks(1) {
                Err(TickError::SystemPanicked { message, .. }) => {
                    assert!(
                        message.contains("first fold, chunk 2"),
                        "{executor:?}: {message}"
                    );
                }
                other => panic!("{executor:?}: {other:?}"),
            }
            let len = fold_chunk_len::<Numbered>();
            assert_eq!(engine.world().resource::<Count>().0, 6 * len);
            assert_eq!(engine.world().resource::<CountToo>().0, 6 * len);
        }
    }
}

/// A zero-sized event.
#[derive(Debug, Clone, Copy)]
struct Beat;

#[test]
fn a_fold_over_a_zero_sized_event_sees_every_event() {
    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .add_systems(|mut out: EventWriter<Beat>| out.send_batch((0..100_000).map(|_| Beat)))
            .add_event_fold(
                |beats: &[Beat]| beats.len(),
                |count: &mut Count, n| count.0 += n,
            );
        let mut engine = app.build().expect("valid schedule");
        engine.run_ticks(3).expect("ticks run");
        assert_eq!(
            engine.world().resource::<Count>().0,
            200_000,
            "{executor:?}"
        );
    }
}

fn count_len(samples: &[Numbered]) -> usize {
    samples.len()
}

fn add_count(count: &mut Count, n: usize) {
    count.0 += n;
}

#[test]
fn the_same_fold_and_merge_functions_twice_merge_twice() {
    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .add_systems(write_chunks(3))
            .add_event_fold(count_len, add_count)
            .add_event_fold(count_len, add_count);
        let mut engine = app.build().expect("valid schedule");
        engine.run_ticks(3).expect("ticks run");
        let expected = 2 * 2 * 3 * fold_chunk_len::<Numbered>();
        assert_eq!(
            engine.world().resource::<Count>().0,
            expected,
            "{executor:?}"
        );
    }
}

/// A game whose only reader of its input is a fold.
struct Folding;

#[derive(Resource, Default, Clone, Debug)]
struct SeqTotal(u64);
tickbus::impl_stable_hash!(SeqTotal { 0 });

impl Game for Folding {
    const NAME: &'static str = "folding";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.add_systems(|mut out: EventWriter<Numbered>| {
            out.send_batch((0..10).map(|seq| Numbered { seq }))
        })
        .add_event_fold(
            |samples: &[Numbered]| samples.iter().map(|s| u64::from(s.seq)).sum::<u64>(),
            |total: &mut SeqTotal, sum| total.0 += sum,
        );
    }
    fn register_state(state: &mut StateHasher) {
        state.resource::<SeqTotal>().event::<Numbered>();
    }
}

#[test]
fn a_snapshot_of_a_game_with_a_fold_holds_everything_it_found() {
    let setup = RunSetup {
        seed: 1,
        tick_rate: 60,
        executor: ExecutorKind::Sequential,
    };
    let (mut engine, _input) = build_game::<Folding>(&(), setup).expect("builds");
    let state = state_hasher::<Folding>();
    engine.run_ticks(5).expect("ticks run");
    let snapshot = Snapshot::capture(&mut engine, &state).expect("captured");
    assert!(
        snapshot.uncaptured().is_empty(),
        "{:?}",
        snapshot.uncaptured()
    );
}

/// Per tick: the merged count a system found when it ran.
#[derive(Resource, Default)]
struct CountsSeen(Vec<usize>);

#[derive(Resource)]
struct Paused(bool);

#[test]
fn a_system_added_before_the_fold_sees_this_ticks_merge_only_when_ordered_after_the_set() {
    for ordered in [true, false] {
        for executor in executors() {
            let mut app = App::new();
            let look = |count: Res<Count>, mut seen: ResMut<CountsSeen>| seen.0.push(count.0);
            app.set_executor(executor).init_resource::<CountsSeen>();
            if ordered {
                app.add_systems(look.after(EventFoldSystems));
            } else {
                app.add_systems(look);
            }
            app.add_systems(write_chunks(2))
                .add_event_fold(count_len, add_count);
            let mut engine = app.build().expect("valid schedule");
            engine.run_ticks(4).expect("ticks run");
            let per_tick = 2 * fold_chunk_len::<Numbered>();
            let merged_in: Vec<usize> = (0..4).map(|tick| tick * per_tick).collect();
            let seen = &engine.world().resource::<CountsSeen>().0;
            if ordered {
                assert_eq!(*seen, merged_in, "{executor:?}: the tick's own merge");
            } else {
                // Registered first and conflicting on `Count`, it runs before the merge.
                let a_tick_late: Vec<usize> = (0..4)
                    .map(|tick: usize| tick.saturating_sub(1) * per_tick)
                    .collect();
                assert_eq!(
                    *seen, a_tick_late,
                    "{executor:?}: the previous tick's merge"
                );
            }
        }
    }
}

#[test]
fn a_run_condition_on_the_fold_set_pauses_every_fold_and_merge() {
    for executor in executors() {
        let mut app = App::new();
        app.set_executor(executor)
            .insert_resource(Paused(false))
            .configure_sets(EventFoldSystems.run_if(|paused: Res<Paused>| !paused.0))
            .add_systems(write_chunks(3))
            .add_event_fold(count_len, add_count)
            .add_event_fold(count_len, |count: &mut CountToo, n| count.0 += n);
        let mut engine = app.build().expect("valid schedule");
        engine.run_ticks(2).expect("ticks run");
        engine.world_mut().insert_resource(Paused(true));
        engine.run_ticks(3).expect("paused ticks run");
        engine.world_mut().insert_resource(Paused(false));
        engine.run_ticks(1).expect("ticks run");
        let per_tick = 3 * fold_chunk_len::<Numbered>();
        // Ticks 1 and 5 read events; tick 0 had none, ticks 2-4 were paused (their events
        // are missed, as a skipped reader misses them).
        let world = engine.world();
        assert_eq!(world.resource::<Count>().0, 2 * per_tick, "{executor:?}");
        assert_eq!(world.resource::<CountToo>().0, 2 * per_tick, "{executor:?}");
    }
}

/// The engine's `ComputePool`, which the fold systems take as a parameter, is put back at the
/// next tick if a user removed it: the folds go on seeing every event.
#[test]
fn a_removed_compute_pool_comes_back_and_the_folds_go_on() {
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let mut engine = app_with_folds(executor).build().expect("valid schedule");
        engine.run_ticks(3).expect("ticks run");
        let removed = engine.world_mut().remove_resource::<tickbus::ComputePool>();
        assert!(removed.is_some(), "{executor:?}");
        engine.run_ticks(TICKS - 3).expect("the folds find a pool");
        let expected = written_before(TICKS - 1);
        assert_eq!(
            engine.world().resource::<Copied>().0,
            expected,
            "{executor:?}"
        );
    }
}

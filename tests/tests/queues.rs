//! The visibility contract of the event queues, checked on random scripts: several writer
//! systems write in random ticks, readers run or are skipped by a run condition, and every
//! reader must see exactly the events of the previous tick's writers, once, in writer
//! registration order; skipped ticks are counted as unconsumed and never delivered later.

use proptest::prelude::*;
use tickbus::{ExecutorKind, prelude::*};

const WRITERS: usize = 3;
const READERS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ev {
    writer: usize,
    tick: u64,
    seq: u32,
}

/// The script: per tick, how many events each writer sends and whether each reader runs.
#[derive(Resource, Debug, Clone)]
struct Script {
    writes: Vec<[u32; WRITERS]>,
    runs: Vec<[bool; READERS]>,
}

/// What each reader saw: (tick, events) per run.
#[derive(Resource, Default)]
struct Seen(Vec<Vec<(u64, Vec<Ev>)>>);

fn writer(id: usize) -> impl FnMut(EventWriter<Ev>, Res<Script>, Res<SimTime>) {
    move |mut out, script, time| {
        let tick = time.tick();
        let count = script.writes.get(tick as usize).map_or(0, |w| w[id]);
        out.send_batch((0..count).map(|seq| Ev {
            writer: id,
            tick,
            seq,
        }));
    }
}

fn reader(id: usize) -> impl FnMut(EventReader<Ev>, ResMut<Seen>, Res<SimTime>) {
    move |events, mut seen, time| seen.0[id].push((time.tick(), events.iter().copied().collect()))
}

fn reader_runs(id: usize) -> impl FnMut(Res<Script>, Res<SimTime>) -> bool {
    move |script, time| script.runs.get(time.tick() as usize).is_none_or(|r| r[id])
}

fn build(script: &Script, executor: ExecutorKind) -> Engine {
    let mut app = App::new();
    app.set_executor(executor)
        .insert_resource(script.clone())
        .insert_resource(Seen(vec![Vec::new(); READERS]));
    // Interleave readers and writers in registration order: the order of delivery must
    // depend on writer registration order only.
    for id in 0..WRITERS.max(READERS) {
        if id < READERS {
            app.add_systems(reader(id).run_if(reader_runs(id)));
        }
        if id < WRITERS {
            app.add_systems(writer(id));
        }
    }
    app.build().expect("valid schedule")
}

/// Events readable in `tick`: what the writers sent in `tick - 1`, writer by writer.
fn expected(script: &Script, tick: u64) -> Vec<Ev> {
    let Some(previous) = tick.checked_sub(1) else {
        return Vec::new();
    };
    (0..WRITERS)
        .flat_map(|writer| {
            let count = script.writes[previous as usize][writer];
            (0..count).map(move |seq| Ev {
                writer,
                tick: previous,
                seq,
            })
        })
        .collect()
}

fn check(script: &Script, executor: ExecutorKind) -> Result<(), TestCaseError> {
    let mut engine = build(script, executor);
    for tick in 0..script.writes.len() as u64 {
        let stats = engine
            .tick()
            .expect("no system fails")
            .queue("Ev")
            .expect("queue");
        let any_reader = script.runs[tick as usize].iter().any(|&r| r);
        let readable = expected(script, tick).len();
        prop_assert_eq!(stats.readable, readable);
        prop_assert_eq!(stats.unconsumed, if any_reader { 0 } else { readable });
    }
    let seen = &engine.world().resource::<Seen>().0;
    for (id, runs) in seen.iter().enumerate() {
        let ran_ticks: Vec<u64> = (0..script.runs.len() as u64)
            .filter(|&t| script.runs[t as usize][id])
            .collect();
        prop_assert_eq!(runs.iter().map(|(t, _)| *t).collect::<Vec<_>>(), ran_ticks);
        for (tick, events) in runs {
            prop_assert_eq!(
                events,
                &expected(script, *tick),
                "reader {} tick {}",
                id,
                tick
            );
        }
    }
    Ok(())
}

fn script() -> impl Strategy<Value = Script> {
    (1usize..24).prop_flat_map(|ticks| {
        (
            prop::collection::vec(prop::array::uniform3(0u32..5), ticks),
            prop::collection::vec(prop::array::uniform3(any::<bool>()), ticks),
        )
            .prop_map(|(writes, runs)| Script { writes, runs })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sequential_readers_see_each_event_of_their_ticks_once_in_order(script in script()) {
        check(&script, ExecutorKind::Sequential)?;
    }

    #[test]
    fn parallel_readers_see_the_same(script in script()) {
        check(&script, ExecutorKind::forced_parallel(3))?;
    }
}

#[test]
fn an_event_written_in_the_last_tick_is_still_pending() {
    let script = Script {
        writes: vec![[1, 0, 0]],
        runs: vec![[true; READERS]],
    };
    let mut engine = build(&script, ExecutorKind::Sequential);
    let stats = engine.tick().unwrap().queue("Ev").unwrap();
    assert_eq!(stats.written, 1);
    assert_eq!(stats.readable, 0);
    let queue = engine.world().resource::<tickbus::EventQueue<Ev>>();
    assert_eq!(
        queue.pending(),
        &[Ev {
            writer: 0,
            tick: 0,
            seq: 0
        }]
    );
}

/// The engine's executors for the queue-removal tests: the sequential one and the parallel one
/// with its workers used.
fn executors() -> [ExecutorKind; 2] {
    [ExecutorKind::Sequential, ExecutorKind::forced_parallel(3)]
}

/// What reader 0 saw: per run, its tick and the (writer, tick) of each event.
fn read_by_first_reader(engine: &Engine) -> Vec<(u64, Vec<(usize, u64)>)> {
    engine.world().resource::<Seen>().0[0]
        .iter()
        .map(|(tick, events)| {
            let events = events.iter().map(|event| (event.writer, event.tick));
            (*tick, events.collect())
        })
        .collect()
}

/// How many queues of `Ev` the last tick's statistics list (one per registration).
fn queues_of_ev(engine: &Engine) -> usize {
    let stats = engine.stats();
    stats
        .queues
        .iter()
        .filter(|(name, _)| name.ends_with("::Ev"))
        .count()
}

/// A script of `ticks` ticks in which writer 0 sends one event a tick and every reader runs.
fn first_writer_only(ticks: usize) -> Script {
    Script {
        writes: vec![[1, 0, 0]; ticks],
        runs: vec![[true; READERS]; ticks],
    }
}

/// An app with `script`'s resources on `executor`, and no systems yet.
fn bare_app(script: &Script, executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor)
        .insert_resource(script.clone())
        .insert_resource(Seen(vec![Vec::new(); READERS]));
    app
}

/// A user who removes an event queue gets an empty one back at the next write, and from
/// then on that queue is swapped once a tick like any other: the events of one tick are
/// readable in the next, not dropped by a second swap.
#[test]
fn a_removed_queue_comes_back_and_delivers_the_events_sent_after() {
    let ticks = 4;
    let script = first_writer_only(ticks);
    let between = Ev {
        writer: WRITERS,
        tick: 0,
        seq: 0,
    };
    for executor in executors() {
        let mut engine = build(&script, executor);
        engine.tick().unwrap();
        let removed = engine
            .world_mut()
            .remove_resource::<tickbus::EventQueue<Ev>>();
        assert_eq!(removed.map(|queue| queue.pending().len()), Some(1));
        // Brings the queue back (empty), before tick 1's readers run.
        engine.send_event(between);
        for _ in 1..ticks {
            engine.tick().unwrap();
        }
        // Tick 0's event went with the removed queue; every later one is read once, a tick
        // after it was sent.
        let expected = vec![
            (0, vec![]),
            (1, vec![(WRITERS, 0)]),
            (2, vec![(0, 1)]),
            (3, vec![(0, 2)]),
        ];
        assert_eq!(read_by_first_reader(&engine), expected, "{executor:?}");
        assert_eq!(queues_of_ev(&engine), 1, "{executor:?}: registered once");
    }
}

/// A queue removed during a tick (here by an exclusive system after the writers): the events
/// merged into it go with it, the next tick's readers fail with an error that names the
/// missing queue, and the writers of that tick bring it back, so the tick after reads their
/// events.
#[test]
fn a_queue_removed_during_a_tick_fails_the_next_readers_then_delivers_again() {
    let ticks = 5;
    let script = first_writer_only(ticks);
    for executor in executors() {
        let mut app = bare_app(&script, executor);
        app.add_systems(writer(0))
            .add_systems((reader(0), reader(1), reader(2)))
            .add_systems(|world: &mut World| {
                if world.resource::<SimTime>().tick() == 1 {
                    world.remove_resource::<tickbus::EventQueue<Ev>>();
                }
            });
        let mut engine = app.build().unwrap();
        engine.run_ticks(2).unwrap();
        let error = engine.tick().expect_err("tick 2's readers find no queue");
        let message = error.to_string();
        assert!(
            message.contains("reader") && message.contains("EventQueue"),
            "{executor:?}: {message}"
        );
        engine.run_ticks(2).unwrap();
        // Tick 1's event went with the queue; tick 2's reader failed; tick 2's and 3's events
        // are read in ticks 3 and 4.
        let expected = vec![
            (0, vec![]),
            (1, vec![(0, 0)]),
            (3, vec![(0, 2)]),
            (4, vec![(0, 3)]),
        ];
        assert_eq!(read_by_first_reader(&engine), expected, "{executor:?}");
        assert_eq!(queues_of_ev(&engine), 1, "{executor:?}: registered once");
    }
}

/// A queue the user inserts before anything registered its type is registered by the first
/// system that uses it, and swapped every tick like any other: a new one, and one taken from
/// another engine's world (registered there, not here).
#[test]
fn a_queue_the_user_inserted_is_swapped_like_any_other() {
    let ticks = 3;
    let script = first_writer_only(ticks);
    for executor in executors() {
        let mut elsewhere = build(&script, executor);
        elsewhere.tick().unwrap();
        let taken = elsewhere
            .world_mut()
            .remove_resource::<tickbus::EventQueue<Ev>>()
            .expect("the other engine's queue");
        for (queue, origin) in [(tickbus::EventQueue::default(), "new"), (taken, "taken")] {
            let mut app = bare_app(&script, executor);
            app.insert_resource(queue)
                .add_systems((writer(0), reader(0), reader(1), reader(2)));
            let mut engine = app.build().unwrap();
            engine.run_ticks(ticks as u64).unwrap();
            // The taken queue's pending event of the other engine is read in tick 0.
            let first = if origin == "taken" {
                vec![(0, 0)]
            } else {
                vec![]
            };
            let expected = vec![(0, first), (1, vec![(0, 0)]), (2, vec![(0, 1)])];
            let what = format!("{executor:?}, {origin} queue");
            assert_eq!(read_by_first_reader(&engine), expected, "{what}");
            assert_eq!(queues_of_ev(&engine), 1, "{what}: registered once");
        }
    }
}

/// A queue taken from another engine's world and inserted while this engine runs, for a type
/// only `send_event` uses here: the send registers it, and the next tick reads the event.
#[test]
fn a_queue_from_another_engine_inserted_mid_run_is_registered_by_the_next_send() {
    let script = first_writer_only(2);
    let mut elsewhere = build(&script, ExecutorKind::Sequential);
    elsewhere.run_ticks(2).unwrap();
    let taken = elsewhere
        .world_mut()
        .remove_resource::<tickbus::EventQueue<Ev>>()
        .expect("the other engine's queue");
    let mut engine = App::new().build().unwrap();
    engine.tick().unwrap();
    engine.world_mut().insert_resource(taken);
    let sent = Ev {
        writer: WRITERS,
        tick: 1,
        seq: 0,
    };
    engine.send_event(sent);
    engine.tick().unwrap();
    let queue = engine.world().resource::<tickbus::EventQueue<Ev>>();
    // The other engine's pending event (its tick 1) came along, then the one sent here.
    let readable: Vec<(usize, u64)> = queue
        .readable()
        .iter()
        .map(|e| (e.writer, e.tick))
        .collect();
    assert_eq!(readable, vec![(0, 1), (WRITERS, 1)]);
    assert_eq!(queues_of_ev(&engine), 1, "registered once");
}

/// The buffers a tick's writes land in, tick after tick: the pending events' address after
/// each of `ticks` ticks.
fn pending_buffers(engine: &mut Engine, ticks: usize) -> Vec<usize> {
    (0..ticks)
        .map(|_| {
            engine.tick().unwrap();
            let queue = engine.world().resource::<tickbus::EventQueue<Ev>>();
            queue.pending().as_ptr() as usize
        })
        .collect()
}

/// Writes alternate between two buffers (each tick's go into the buffer the readers of the
/// tick before went through), also after a user replaced the queue: the writers take their
/// buffers from the new queue, not from the one that was removed.
#[test]
fn writes_alternate_between_two_buffers_also_after_the_queue_was_replaced() {
    let ticks = 14;
    let script = Script {
        writes: vec![[50, 0, 0]; ticks],
        runs: vec![[true; READERS]; ticks],
    };
    for executor in executors() {
        // One writer: several would take turns at the spare slot as the threads come, and
        // which one gets the warm buffer would vary.
        let mut app = bare_app(&script, executor);
        app.add_systems((writer(0), reader(0)));
        let mut engine = app.build().unwrap();
        let distinct = |buffers: Vec<usize>| {
            let mut buffers = buffers[2..].to_vec(); // after warm-up
            buffers.sort_unstable();
            buffers.dedup();
            buffers.len()
        };
        let before = pending_buffers(&mut engine, 6);
        assert_eq!(distinct(before), 2, "{executor:?}: before");
        engine
            .world_mut()
            .insert_resource(tickbus::EventQueue::<Ev>::default());
        let after = pending_buffers(&mut engine, 8);
        assert_eq!(
            distinct(after),
            2,
            "{executor:?}: after the queue was replaced"
        );
    }
}

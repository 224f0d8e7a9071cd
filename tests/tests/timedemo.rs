//! Timedemo: the report's figures are the arithmetic of the ticks it ran (events per type
//! equal to what was sent and written, time per system from its runs, parallelism equal to
//! the executor's counters), its JSON round-trips, its Chrome trace holds exactly one
//! complete event per system run (on two threads at the same time where systems ran in
//! parallel), and a diverging scenario is still reported.

use std::collections::{BTreeMap, BTreeSet};

use tickbus::{
    ExecutorKind,
    prelude::*,
    replay::{Game, GameScenario, Recorder, StateHasher, Timedemo, TimedemoRecords},
};
use tickbus_tests::overlap::{Rendezvous, meet, meet_too};

/// Each input is echoed twice into `Echo`, read the next tick into a total.
struct Echoes;

#[derive(Debug, Clone, Copy)]
struct Echo(u32);

#[derive(Resource, Default, Clone, Debug)]
struct Total(u64);
tickbus::impl_stable_hash!(Total { 0 });

fn echo(inputs: EventReader<u32>, mut echoes: EventWriter<Echo>) {
    for input in inputs.iter() {
        echoes.send(Echo(*input));
        echoes.send(Echo(*input));
    }
}

fn add(echoes: EventReader<Echo>, mut total: ResMut<Total>) {
    total.0 += echoes.iter().map(|echo| u64::from(echo.0)).sum::<u64>();
}

impl Game for Echoes {
    const NAME: &'static str = "echoes";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.add_event::<Echo>()
            .init_resource::<Total>()
            .add_systems((echo, add));
    }
    fn register_state(hasher: &mut StateHasher) {
        hasher.resource::<Total>();
    }
}

const TICKS: u64 = 20;

/// 3 inputs collected in tick 0, 1 in tick 5: 4 inputs and 8 echoes in all.
fn scenario() -> GameScenario<Echoes> {
    let mut recorder = Recorder::<Echoes>::builder(())
        .checkpoint_every(5)
        .build()
        .unwrap();
    for tick in 0..TICKS {
        let inputs: &[u32] = match tick {
            0 => &[1, 2, 3],
            5 => &[10],
            _ => &[],
        };
        for input in inputs {
            recorder.input().send(*input).unwrap();
        }
        recorder.tick().unwrap();
    }
    recorder.scenario()
}

fn queue(records: &TimedemoRecords, name: &str) -> usize {
    let index = records
        .queues
        .iter()
        .position(|queue| queue.ends_with(name));
    index.unwrap_or_else(|| panic!("no queue {name} in {:?}", records.queues))
}

#[test]
fn events_per_type_are_the_events_sent_and_written() {
    let report = Timedemo::<Echoes>::new(&scenario()).run().unwrap();
    assert!(report.replay.is_verified(), "{}", report.replay);
    let records = &report.records;
    assert_eq!(records.ticks.len() as u64, TICKS);
    let summary = records.summary();
    let inputs = &summary.events[queue(records, "u32")];
    assert_eq!((inputs.total, inputs.max), (4, 3));
    assert!((inputs.mean - 4.0 / TICKS as f64).abs() < 1e-12);
    let echoes = &summary.events[queue(records, "Echo")];
    assert_eq!((echoes.total, echoes.max), (8, 6));
    // Echoes are readable the tick after they were written.
    let echo_ticks: Vec<u64> = (records.ticks.iter())
        .filter(|tick| tick.events[queue(records, "Echo")] > 0)
        .map(|tick| tick.tick)
        .collect();
    assert_eq!(echo_ticks, [1, 6]);
}

#[test]
fn system_times_and_parallelism_are_the_arithmetic_of_the_ticks() {
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let report = Timedemo::<Echoes>::new(&scenario())
            .executor(executor)
            .run()
            .unwrap();
        let records = &report.records;
        let summary = records.summary();
        assert!(records.systems[0].ends_with("echo") && records.systems[1].ends_with("add"));
        for (index, system) in summary.systems.iter().enumerate() {
            assert_eq!(system.runs as u64, TICKS, "{}", system.name);
            let mut times: Vec<u64> = (records.ticks.iter())
                .map(|tick| tick.systems_ns[index].unwrap())
                .collect();
            assert_eq!(system.total.as_nanos(), times.iter().sum::<u64>().into());
            times.sort_unstable();
            // Nearest rank of 20 samples: the median is the 10th, p99 and max the 20th.
            assert_eq!(system.time.median.as_nanos(), times[9].into());
            assert_eq!(system.time.p99.as_nanos(), times[19].into());
            assert_eq!(system.time.max.as_nanos(), times[19].into());
        }
        let totals = report.replay.executor;
        let parallel = summary.parallelism;
        let overlapped = parallel.ticks_with_overlap * TICKS as f64;
        assert!((overlapped - totals.ticks_with_overlap as f64).abs() < 1e-9);
        let on_workers = parallel.mean_systems_on_workers * TICKS as f64;
        assert!((on_workers - totals.systems_on_workers as f64).abs() < 1e-9);
        let mut shares: Vec<f64> = records.ticks.iter().map(|t| t.system_share()).collect();
        shares.sort_unstable_by(f64::total_cmp);
        assert_eq!(parallel.median_system_share, shares[9]);
        if executor == ExecutorKind::Sequential {
            assert_eq!(totals.systems_on_workers, 0);
            assert!(parallel.system_time_per_tick_time <= 1.0, "{parallel:?}");
        }
    }
}

#[test]
fn the_records_round_trip_through_json() {
    let report = Timedemo::<Echoes>::new(&scenario()).run().unwrap();
    let json = serde_json::to_string(&report.records).unwrap();
    let back: TimedemoRecords = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report.records);
    assert_eq!(back.summary(), report.records.summary());
}

#[test]
fn the_trace_has_one_complete_event_per_system_run_on_named_threads() {
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let report = Timedemo::<Echoes>::new(&scenario())
            .executor(executor)
            .trace(true)
            .run()
            .unwrap();
        let text = serde_json::to_string(&report.trace.unwrap()).unwrap();
        let trace: serde_json::Value = serde_json::from_str(&text).unwrap();
        let events = trace["traceEvents"]
            .as_array()
            .expect("a traceEvents array");
        let complete: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(
            complete.len() as u64,
            2 * TICKS,
            "2 systems × {TICKS} ticks"
        );
        let mut per_tick: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
        for event in &complete {
            assert!(event["ts"].as_f64().is_some() && event["dur"].as_f64().unwrap() >= 0.0);
            assert_eq!(event["pid"], 1);
            let tid = &event["tid"];
            assert!(
                (events.iter())
                    .any(|m| m["ph"] == "M" && m["name"] == "thread_name" && &m["tid"] == tid),
                "thread {tid} has a name"
            );
            let tick = event["args"]["tick"].as_u64().unwrap();
            per_tick
                .entry(tick)
                .or_default()
                .push(event["name"].as_str().unwrap());
        }
        assert_eq!(per_tick.len() as u64, TICKS);
        for names in per_tick.values() {
            assert!(names.len() == 2 && names[0].ends_with("echo") && names[1].ends_with("add"));
        }
    }
}

/// Two systems that wait for each other (a few ms at most), so that a forced-parallel
/// executor runs them on two threads at the same time.
struct Meeting;

impl Game for Meeting {
    const NAME: &'static str = "meeting";
    type Config = ();
    type Input = u32;
    fn build(_: &(), app: &mut App) {
        app.insert_resource(Rendezvous::new(ExecutorKind::forced_parallel(2)))
            .init_resource::<Total>()
            .add_systems((meet, meet_too));
    }
    fn register_state(hasher: &mut StateHasher) {
        hasher.resource::<Total>();
    }
}

/// Ticks of the meeting game: each has a chance that the two systems meet (a worker starts
/// within the rendezvous' patience), so many ticks make a false failure on a busy machine
/// unlikely; they cost microseconds each.
const MEETING_TICKS: u64 = 200;

#[test]
fn a_parallel_trace_shows_overlapping_runs_on_two_named_threads() {
    let executor = ExecutorKind::forced_parallel(2);
    let mut recorder = Recorder::<Meeting>::builder(())
        .executor(executor)
        .build()
        .unwrap();
    recorder.run_ticks(MEETING_TICKS).unwrap();
    let report = Timedemo::<Meeting>::new(&recorder.scenario())
        .executor(executor)
        .trace(true)
        .run()
        .unwrap();
    assert!(report.replay.is_verified(), "{}", report.replay);
    let text = serde_json::to_string(&report.trace.unwrap()).unwrap();
    let trace: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    // (thread, start, end) of every complete event, in µs.
    let runs: Vec<(u64, f64, f64)> = (events.iter())
        .filter(|event| event["ph"] == "X")
        .map(|event| {
            let start = event["ts"].as_f64().unwrap();
            let tid = event["tid"].as_u64().unwrap();
            (tid, start, start + event["dur"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(runs.len() as u64, 2 * MEETING_TICKS);
    let threads: BTreeSet<u64> = runs.iter().map(|(tid, ..)| *tid).collect();
    assert!(threads.len() >= 2, "runs on two threads: {threads:?}");
    for tid in &threads {
        let named = events.iter().any(|event| {
            event["ph"] == "M"
                && event["name"] == "thread_name"
                && event["tid"] == *tid
                && event["args"]["name"]
                    .as_str()
                    .is_some_and(|name| !name.is_empty())
        });
        assert!(named, "thread {tid} has a thread_name event");
    }
    let overlapping = runs.iter().any(|&(tid, start, end)| {
        (runs.iter()).any(|&(other, from, to)| other != tid && start < to && from < end)
    });
    assert!(
        overlapping,
        "two runs on different threads overlap: {runs:?}"
    );
}

#[test]
fn a_divergence_is_reported_and_the_ticks_before_it_measured() {
    let mut scenario = scenario();
    scenario.checkpoints[2].hash ^= 1;
    let report = Timedemo::<Echoes>::new(&scenario).run().unwrap();
    let divergence = report
        .replay
        .divergence
        .expect("the tampered checkpoint diverges");
    assert_eq!(divergence.ticks(), 5..10);
    assert_eq!(report.records.ticks.len(), 10);
}

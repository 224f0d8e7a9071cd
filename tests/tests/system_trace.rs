//! System tracing: with it on, every system run of a tick is reported once with its thread,
//! and systems that really overlapped show overlapping spans on different threads; with it
//! off nothing is recorded.

use std::time::Instant;

use tickbus::{ExecutorKind, SystemRun, prelude::*};
use tickbus_tests::overlap::{Rendezvous, meet, meet_too, must_overlap};

fn engine(executor: ExecutorKind) -> (Engine, Rendezvous) {
    let rendezvous = Rendezvous::new(executor);
    let mut app = App::new();
    app.set_executor(executor);
    app.insert_resource(rendezvous.clone());
    app.add_systems((meet, meet_too, || {}));
    (app.build().unwrap(), rendezvous)
}

fn overlap(a: &SystemRun, b: &SystemRun) -> bool {
    a.start < b.start + b.duration && b.start < a.start + a.duration
}

#[test]
fn every_system_run_is_traced_once_per_tick_with_its_thread() {
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        let (mut engine, rendezvous) = engine(executor);
        engine.set_system_tracing(true);
        let origin = Instant::now();
        let mut overlapped = 0;
        for _ in 0..20 {
            engine.tick().unwrap();
            let runs = engine.take_system_runs(origin);
            let systems: Vec<usize> = runs.iter().map(|run| run.system).collect();
            assert_eq!(systems, [0, 1, 2], "one run per system: {runs:?}");
            assert!(runs[0].name.contains("meet") && runs[1].name.contains("meet_too"));
            if overlap(&runs[0], &runs[1]) && runs[0].thread != runs[1].thread {
                overlapped += 1;
            }
            if executor == ExecutorKind::Sequential {
                assert!(runs.iter().all(|run| run.thread == runs[0].thread));
                assert!(!overlap(&runs[0], &runs[1]), "{runs:?}");
            }
        }
        if must_overlap(executor) {
            assert!(rendezvous.met() > 0, "the systems met");
            assert!(overlapped > 0, "overlapping runs show on two threads");
        }
    }
}

#[test]
fn nothing_is_recorded_while_tracing_is_off() {
    let (mut engine, _) = engine(ExecutorKind::forced_parallel(2));
    let origin = Instant::now();
    engine.tick().unwrap();
    assert!(engine.take_system_runs(origin).is_empty());
    engine.set_system_tracing(true);
    engine.tick().unwrap();
    assert_eq!(engine.take_system_runs(origin).len(), 3);
    engine.set_system_tracing(false);
    engine.tick().unwrap();
    assert!(engine.take_system_runs(origin).is_empty());
}

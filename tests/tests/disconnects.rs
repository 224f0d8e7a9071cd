//! Disconnects and drops: every producer gone mid-run is reported and the loop goes on; a
//! sender used after the engine is gone gets its events back as errors; dropping the engine
//! while producers are blocked on a full bounded source wakes them with an error (no
//! deadlock; checked with a bounded wait).

use std::{sync::mpsc, thread, time::Duration};

use tickbus::{BatchStop, TrySendError, prelude::*};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Input(u32);

#[derive(Resource, Default)]
struct Seen(Vec<u32>);

fn see(inputs: EventReader<Input>, mut seen: ResMut<Seen>) {
    seen.0.extend(inputs.iter().map(|input| input.0));
}

fn engine_with(config: SourceConfig) -> (Engine, EventSender<Input>) {
    let mut app = App::new();
    let sender = app.add_source::<Input>(config);
    app.init_resource::<Seen>().add_system(see);
    (app.build().unwrap(), sender)
}

/// Waits at most 30 s for `result`, failing the test instead of hanging.
fn within_bounded_time<T>(result: &mpsc::Receiver<T>, what: &str) -> T {
    result
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what}: still blocked after 30 s"))
}

#[test]
fn every_producer_dropped_mid_run_is_reported_and_the_loop_goes_on() {
    let (mut engine, sender) = engine_with(SourceConfig::bounded(64).budget(16));
    let producers: Vec<_> = (0..4u32)
        .map(|id| {
            let sender = sender.clone();
            thread::spawn(move || {
                for i in 0..500 {
                    sender.send(Input(id * 1000 + i)).unwrap();
                }
                // The sender is dropped here, mid-run.
            })
        })
        .collect();
    drop(sender);
    let mut ticks_after_disconnect = 0;
    let mut was_reported = false;
    while ticks_after_disconnect < 1000 {
        let stats = engine.tick().expect("a disconnect is not an error").sources[0];
        if was_reported {
            assert!(stats.disconnected, "a disconnect stays reported");
            assert_eq!((stats.collected, stats.backlog), (0, 0));
            ticks_after_disconnect += 1;
        }
        was_reported |= stats.disconnected;
        assert!(engine.tick_count() < 1_000_000, "never reported");
    }
    producers.into_iter().for_each(|p| p.join().unwrap());
    let mut seen = engine.world().resource::<Seen>().0.clone();
    assert_eq!(seen.len(), 2000, "everything sent before the drop arrived");
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 2000, "exactly once");
}

#[test]
fn a_disconnect_is_reported_only_once_the_backlog_is_drained() {
    let (mut engine, sender) = engine_with(SourceConfig::unbounded().budget(3));
    sender.send_batch((0..7).map(Input).collect()).unwrap();
    drop(sender);
    let reports: Vec<(usize, usize, bool)> = (0..4)
        .map(|_| {
            let stats = engine.tick().unwrap().sources[0];
            (stats.collected, stats.backlog, stats.disconnected)
        })
        .collect();
    assert_eq!(
        reports,
        vec![(3, 4, false), (3, 1, false), (1, 0, true), (0, 0, true)]
    );
}

#[test]
fn every_send_method_after_the_engine_is_gone_is_an_error_not_a_panic() {
    let (engine, sender) = engine_with(SourceConfig::bounded(4));
    sender.send(Input(1)).unwrap();
    drop(engine);
    let clone = sender.clone();
    assert_eq!(clone.send(Input(2)).unwrap_err().0, Input(2));
    assert_eq!(
        clone.try_send(Input(3)),
        Err(TrySendError::Disconnected(Input(3)))
    );
    let error = clone.send_batch(vec![Input(4), Input(5)]).unwrap_err();
    assert_eq!(
        (error.sent, error.unsent, error.reason),
        (0, vec![Input(4), Input(5)], BatchStop::Disconnected)
    );
    let error = clone.try_send_batch(vec![Input(6)]).unwrap_err();
    assert_eq!(
        (error.sent, error.unsent, error.reason),
        (0, vec![Input(6)], BatchStop::Disconnected)
    );
    // The queries answer too (the event sent before the drop went with the engine).
    assert_eq!(clone.capacity(), Some(4));
    let _ = (clone.len(), clone.is_empty());
}

#[test]
fn dropping_the_engine_wakes_producers_blocked_on_a_full_source() {
    let (engine, sender) = engine_with(SourceConfig::bounded(2));
    sender.try_send(Input(0)).unwrap();
    sender.try_send(Input(1)).unwrap();
    assert_eq!(sender.len(), 2, "full");
    let (single_done, single) = mpsc::channel();
    let (batch_done, batch) = mpsc::channel();
    let blocked_single = sender.clone();
    thread::spawn(move || single_done.send(blocked_single.send(Input(2))));
    let blocked_batch = sender.clone();
    thread::spawn(move || {
        batch_done.send(blocked_batch.send_batch(vec![Input(3), Input(4), Input(5)]))
    });
    // Give both a moment to block (if they have not, they fail the same way when they try).
    thread::sleep(Duration::from_millis(50));
    assert!(
        single.try_recv().is_err() && batch.try_recv().is_err(),
        "both are blocked while the source is full"
    );
    drop(engine);
    let single = within_bounded_time(&single, "a blocked send");
    assert_eq!(single.unwrap_err().0, Input(2), "the event is given back");
    let batch = within_bounded_time(&batch, "a blocked send_batch");
    let error = batch.unwrap_err();
    assert_eq!(error.reason, BatchStop::Disconnected);
    assert_eq!(error.sent, 0);
    assert_eq!(error.unsent, vec![Input(3), Input(4), Input(5)]);
}

#[test]
fn dropping_a_running_engine_releases_a_producer_mid_batch() {
    let (mut engine, sender) = engine_with(SourceConfig::bounded(8).budget(4));
    let (done, result) = mpsc::channel();
    let producer = sender.clone();
    thread::spawn(move || done.send(producer.send_batch((0..100).map(Input).collect())));
    // Collect a few ticks' worth, then drop the engine while the batch is still going.
    while engine.stats().sources.first().map_or(0, |s| s.total) < 12 {
        engine.tick().unwrap();
    }
    let collected = engine.stats().sources[0].total;
    drop(engine);
    let error = within_bounded_time(&result, "a batch on a dropped engine").unwrap_err();
    assert_eq!(error.reason, BatchStop::Disconnected);
    assert_eq!(
        error.sent + error.unsent.len(),
        100,
        "every event accounted for"
    );
    assert!(error.sent as u64 >= collected);
    assert_eq!(
        error.unsent.first(),
        Some(&Input(error.sent as u32)),
        "in order"
    );
}

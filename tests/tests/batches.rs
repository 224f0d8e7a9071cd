//! Batches on an unbounded channel source cross the channel as one message: the engine
//! splits a batch where the per-tick budget ends and carries the rest over, ahead of later
//! arrivals; every event arrives exactly once and in order; a disconnect is reported only
//! once the carried rest is collected; drained batch buffers go back to the senders.

use std::thread;

use tickbus::{SendError, TrySendError, prelude::*};
use tickbus_tests::input_log::{Input, Log, engine_with_source};

fn inputs(range: std::ops::Range<u32>) -> Vec<Input> {
    range.map(Input).collect()
}

/// (collected, backlog, disconnected) of the first source in each of `ticks` ticks.
fn run(engine: &mut Engine, ticks: usize) -> Vec<(usize, usize, bool)> {
    (0..ticks)
        .map(|_| {
            let stats = engine.tick().unwrap().sources[0];
            (stats.collected, stats.backlog, stats.disconnected)
        })
        .collect()
}

fn values(engine: &Engine) -> Vec<(u64, u32)> {
    engine.world().resource::<Log>().0.clone()
}

#[test]
fn a_batch_is_split_at_the_budget_and_its_rest_comes_before_later_events() {
    let (mut engine, sender) = engine_with_source(SourceConfig::unbounded().budget(5));
    sender.send_batch(inputs(0..12)).unwrap();
    sender.send(Input(100)).unwrap();
    assert_eq!(
        sender.len(),
        13,
        "a batch counts its events, not one message"
    );
    assert_eq!(
        run(&mut engine, 4),
        [(5, 8, false), (5, 3, false), (3, 0, false), (0, 0, false)]
    );
    assert_eq!(sender.len(), 0);
    let expected: Vec<(u64, u32)> = (0..12)
        .map(|i| (u64::from(i / 5), i))
        .chain([(2, 100)])
        .collect();
    assert_eq!(values(&engine), expected);
}

#[test]
fn batches_that_fit_are_collected_whole_and_empty_ones_send_nothing() {
    let (mut engine, sender) = engine_with_source(SourceConfig::unbounded().budget(10));
    sender.send_batch(Vec::new()).unwrap();
    sender.send_batch(inputs(0..4)).unwrap();
    sender.send_batch(inputs(4..10)).unwrap();
    sender.send_batch(inputs(10..11)).unwrap();
    assert_eq!(run(&mut engine, 2), [(10, 1, false), (1, 0, false)]);
    let got: Vec<u32> = values(&engine).iter().map(|&(_, v)| v).collect();
    assert_eq!(got, (0..11).collect::<Vec<_>>());
}

#[test]
fn producers_mixing_events_and_batches_lose_nothing_and_keep_their_order() {
    const PRODUCERS: u32 = 3;
    const PER_PRODUCER: u32 = 5_000;
    let (mut engine, sender) = engine_with_source(SourceConfig::unbounded().budget(97));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let sender = sender.clone();
            thread::spawn(move || {
                let base = producer * PER_PRODUCER;
                let mut next = 0;
                let mut size = 0;
                while next < PER_PRODUCER {
                    // Batch sizes 0, 1, 2, ... 300, then again: many cross the budget.
                    size = (size + 37) % 301;
                    let end = (next + size).min(PER_PRODUCER);
                    if size % 5 == 0 {
                        for i in next..end {
                            sender.send(Input(base + i)).unwrap();
                        }
                    } else {
                        let mut batch = sender.batch_buffer();
                        batch.extend((next..end).map(|i| Input(base + i)));
                        sender.send_batch(batch).unwrap();
                    }
                    next = end;
                }
            })
        })
        .collect();
    drop(sender);
    let total = (PRODUCERS * PER_PRODUCER) as u64;
    let mut disconnected = false;
    let mut ticks = 0;
    while !disconnected {
        let stats = engine.tick().unwrap().sources[0];
        assert!(stats.collected <= 97, "{stats:?}");
        disconnected = stats.disconnected;
        ticks += 1;
        assert!(ticks < 10_000_000, "the producers stalled");
    }
    producers.into_iter().for_each(|p| p.join().unwrap());
    assert_eq!(engine.stats().sources[0].total, total);
    let log = values(&engine);
    assert_eq!(log.len() as u64, total, "exactly once");
    for producer in 0..PRODUCERS {
        let base = producer * PER_PRODUCER;
        let own: Vec<u32> = log
            .iter()
            .map(|&(_, v)| v)
            .filter(|v| (base..base + PER_PRODUCER).contains(v))
            .collect();
        assert_eq!(own, (base..base + PER_PRODUCER).collect::<Vec<_>>());
    }
}

#[test]
fn a_disconnect_waits_for_the_carried_rest_of_a_batch() {
    let (mut engine, sender) = engine_with_source(SourceConfig::unbounded().budget(3));
    sender.send_batch(inputs(0..7)).unwrap();
    drop(sender);
    assert_eq!(
        run(&mut engine, 4),
        [(3, 4, false), (3, 1, false), (1, 0, true), (0, 0, true)]
    );
    assert_eq!(values(&engine).len(), 7);
}

#[test]
fn drained_batch_buffers_go_back_to_the_senders() {
    let (mut engine, sender) = engine_with_source(SourceConfig::unbounded());
    assert_eq!(sender.batch_buffer().capacity(), 0, "nothing drained yet");
    sender.send_batch(Vec::with_capacity(500)).unwrap();
    let mut batch = Vec::with_capacity(500);
    batch.extend(inputs(0..300));
    sender.send_batch(batch).unwrap();
    engine.tick().unwrap();
    let recycled = sender.batch_buffer();
    assert!(recycled.is_empty());
    assert_eq!(recycled.capacity(), 500, "the drained batch, capacity kept");
}

#[test]
fn send_errors_are_tickbus_types_that_give_the_event_back() {
    let (engine, sender) = engine_with_source(SourceConfig::bounded(1));
    sender.try_send(Input(1)).unwrap();
    let full = sender.try_send(Input(2)).unwrap_err();
    assert_eq!(
        full.to_string(),
        "the channel is full; the event was not sent"
    );
    assert_eq!(full.into_inner(), Input(2));
    drop(engine);
    let gone: SendError<Input> = sender.send(Input(3)).unwrap_err();
    assert_eq!(gone.into_inner(), Input(3));
    assert!(matches!(
        sender.try_send(Input(4)),
        Err(TrySendError::Disconnected(Input(4)))
    ));
}

//! Floods: four producer threads send far more than the per-tick budget (each by another
//! method: `send`, `try_send`, `send_batch`, `try_send_batch`) through a bounded and an
//! unbounded source for thousands of ticks. Every event arrives exactly once and in its
//! producer's order; no tick collects more than the budget (the work of a tick is bounded);
//! the backlog counters add up; a bounded source never holds more than its capacity.
//!
//! The engine never outruns the producers: before each tick it waits until the channel
//! holds ten budgets' worth (or the whole capacity of the bounded source), so every tick of
//! the flood faces a backlog of many budgets and is checked to take exactly its budget, and
//! a backlog of several ticks is left to drain once the producers are done.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use tickbus::{BatchStop, SourceTickStats, TrySendError, prelude::*};

/// An event: which producer sent it and its sequence number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    producer: u8,
    seq: u32,
}

/// Every event read, with the tick it was read in.
#[derive(Resource, Default)]
struct Received(Vec<(u64, Sent)>);

fn receive(events: EventReader<Sent>, time: Res<SimTime>, mut received: ResMut<Received>) {
    let tick = time.tick();
    received.0.extend(events.iter().map(|&event| (tick, event)));
}

const PRODUCERS: u8 = 4;
const PER_PRODUCER: u32 = 20_000;
const BUDGET: usize = 32;
const BATCH: usize = 40;

/// Sends `PER_PRODUCER` events as producer `id`, with the method of its number.
fn produce(id: u8, sender: EventSender<Sent>) {
    let events = (0..PER_PRODUCER).map(move |seq| Sent { producer: id, seq });
    match id % 4 {
        0 => events.for_each(|event| sender.send(event).expect("the engine is alive")),
        1 => events.for_each(|event| try_send_until_accepted(&sender, event)),
        2 => {
            let all: Vec<Sent> = events.collect();
            for batch in all.chunks(BATCH) {
                sender
                    .send_batch(batch.to_vec())
                    .expect("the engine is alive");
            }
        }
        _ => {
            let all: Vec<Sent> = events.collect();
            for batch in all.chunks(BATCH) {
                try_send_batch_until_accepted(&sender, batch.to_vec());
            }
        }
    }
}

fn try_send_until_accepted(sender: &EventSender<Sent>, mut event: Sent) {
    loop {
        match sender.try_send(event) {
            Ok(()) => return,
            Err(TrySendError::Full(back)) => event = back,
            Err(error) => panic!("the engine is alive: {error}"),
        }
        thread::yield_now();
    }
}

fn try_send_batch_until_accepted(sender: &EventSender<Sent>, mut batch: Vec<Sent>) {
    while let Err(error) = sender.try_send_batch(batch) {
        assert_eq!(error.reason, BatchStop::Full, "the engine is alive");
        batch = error.unsent;
        thread::yield_now();
    }
}

/// Floods a source made with `config` and checks everything the module docs promise.
fn flood(config: SourceConfig, capacity: Option<usize>) {
    let mut app = App::new();
    let sender = app.add_source::<Sent>(config.budget(BUDGET));
    app.init_resource::<Received>().add_system(receive);
    let mut engine = app.build().unwrap();
    assert_eq!(sender.capacity(), capacity);

    let producing = Arc::new(AtomicBool::new(true));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| {
            let sender = sender.clone();
            thread::spawn(move || produce(id, sender))
        })
        .collect();
    let watcher = {
        let producing = Arc::clone(&producing);
        thread::spawn(move || {
            producers.into_iter().for_each(|p| p.join().unwrap());
            producing.store(false, Ordering::Release);
        })
    };

    let total = u64::from(PRODUCERS) * u64::from(PER_PRODUCER);
    let flood_level = capacity.unwrap_or(usize::MAX).min(10 * BUDGET);
    let mut ticks: Vec<SourceTickStats> = Vec::new();
    let mut drained_after_producers = None;
    while ticks.last().map_or(0, |stats| stats.total) < total {
        wait_for_flood(&sender, &producing, flood_level);
        let done = !producing.load(Ordering::Acquire);
        let stats = engine.tick().unwrap().sources[0];
        if done && drained_after_producers.is_none() {
            drained_after_producers = Some(ticks.len());
        }
        check_tick(&stats, ticks.last(), capacity);
        ticks.push(stats);
    }
    watcher.join().unwrap();
    let drain_start = drained_after_producers.expect("the producers finish before the drain");
    check_flood(&ticks[..drain_start], flood_level, capacity);
    check_drain_after_producers(&ticks[drain_start..], flood_level);

    let received = &engine.world().resource::<Received>().0;
    check_exactly_once_in_order(received);
    assert!(
        ticks.len() as u64 >= total / BUDGET as u64,
        "at most the budget per tick: {} ticks",
        ticks.len()
    );
    let stats = engine.tick().unwrap().sources[0];
    assert_eq!((stats.collected, stats.backlog), (0, 0));
}

/// Waits until `flood_level` events are waiting in the channel, or every producer is done.
/// The producers send as fast as they can meanwhile; a minute without reaching the level is
/// a stall.
fn wait_for_flood(sender: &EventSender<Sent>, producing: &AtomicBool, flood_level: usize) {
    let started = Instant::now();
    while sender.len() < flood_level && producing.load(Ordering::Acquire) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the producers stalled"
        );
        thread::yield_now();
    }
}

/// While the producers ran, every tick faced the flood: it collected exactly its budget and
/// left a backlog of many budgets behind. A bounded source held the producers back (all but
/// one capacity's worth was sent while the engine ticked); unbounded producers may finish
/// before the first tick, leaving the whole flood to the drain.
fn check_flood(ticks: &[SourceTickStats], flood_level: usize, capacity: Option<usize>) {
    let total = usize::from(PRODUCERS) * PER_PRODUCER as usize;
    let held_back = total.saturating_sub(capacity.unwrap_or(total)) / BUDGET;
    assert!(
        ticks.len() + 1 >= held_back,
        "{} ticks while producing, {held_back} expected",
        ticks.len()
    );
    for stats in ticks {
        assert_eq!(stats.collected, BUDGET, "the budget is hit: {stats:?}");
        assert!(
            stats.backlog >= flood_level - BUDGET,
            "a backlog of many budgets waits: {stats:?}"
        );
    }
}

/// Per tick: at most the budget, the running total adds up, the backlog fits the capacity.
fn check_tick(stats: &SourceTickStats, previous: Option<&SourceTickStats>, cap: Option<usize>) {
    assert!(stats.collected <= BUDGET, "{stats:?}");
    let before = previous.map_or(0, |p| p.total);
    assert_eq!(stats.total, before + stats.collected as u64, "{stats:?}");
    if let Some(capacity) = cap {
        assert!(
            stats.backlog <= capacity,
            "{stats:?} over capacity {capacity}"
        );
    }
    assert!(!stats.disconnected, "the test holds a sender");
}

/// Once every producer is done, the backlog shrinks by exactly what each tick collects, and
/// each tick collects its full budget while anything is waiting. The window starts with most
/// of a flood still waiting, so it spans several ticks.
fn check_drain_after_producers(ticks: &[SourceTickStats], flood_level: usize) {
    let first = ticks.first().expect("ticks after the producers are done");
    assert!(
        first.backlog >= flood_level - 2 * BUDGET,
        "a backlog is left to drain: {first:?}"
    );
    assert!(
        ticks.len() > first.backlog / BUDGET,
        "{} ticks",
        ticks.len()
    );
    for pair in ticks.windows(2) {
        let (before, now) = (pair[0], pair[1]);
        assert_eq!(now.backlog, before.backlog - now.collected, "{pair:?}");
        assert_eq!(now.collected, before.backlog.min(BUDGET), "{pair:?}");
    }
}

fn check_exactly_once_in_order(received: &[(u64, Sent)]) {
    let total = usize::from(PRODUCERS) * PER_PRODUCER as usize;
    assert_eq!(received.len(), total, "every event exactly once");
    for producer in 0..PRODUCERS {
        let seqs: Vec<u32> = received
            .iter()
            .filter(|(_, event)| event.producer == producer)
            .map(|(_, event)| event.seq)
            .collect();
        assert!(
            seqs.iter().copied().eq(0..PER_PRODUCER),
            "producer {producer}: not every event once, in order"
        );
    }
    let mut per_tick = std::collections::BTreeMap::<u64, usize>::new();
    for (tick, _) in received {
        *per_tick.entry(*tick).or_default() += 1;
    }
    assert!(
        per_tick.values().all(|&n| n <= BUDGET),
        "a reader's work per tick is bounded"
    );
}

#[test]
fn a_flood_through_a_bounded_source_is_delivered_whole_in_bounded_memory() {
    flood(SourceConfig::bounded(256), Some(256));
}

#[test]
fn a_flood_through_an_unbounded_source_is_delivered_whole() {
    flood(SourceConfig::unbounded(), None);
}

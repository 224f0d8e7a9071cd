//! Channel sources: a producer thread sends far more than the per-tick budget while the loop
//! ticks; every event arrives exactly once, in order, and the counters add up.

use std::{thread, time::Duration};

use tickbus::{BatchStop, TrySendError, prelude::*};
use tickbus_tests::input_log::{Input, Log, engine_with_source};

#[test]
fn a_fast_producer_loses_nothing_and_keeps_its_order() {
    const TOTAL: u32 = 20_000;
    const BUDGET: usize = 64;
    let (mut engine, sender) = engine_with_source(SourceConfig::bounded(256).budget(BUDGET));
    let producer = thread::spawn(move || {
        for chunk in (0..TOTAL).collect::<Vec<_>>().chunks(100) {
            sender
                .send_batch(chunk.iter().map(|&i| Input(i)).collect())
                .unwrap();
        }
    });
    let mut collected_total = 0u64;
    let mut saw_backlog = false;
    let mut ticks = 0u64;
    while collected_total < u64::from(TOTAL) {
        let stats = engine.tick().unwrap().sources[0];
        assert!(
            stats.collected <= BUDGET,
            "budget exceeded: {}",
            stats.collected
        );
        collected_total += stats.collected as u64;
        assert_eq!(stats.total, collected_total);
        saw_backlog |= stats.backlog > 0;
        ticks += 1;
        assert!(ticks < 1_000_000, "the producer stalled");
    }
    producer.join().unwrap();
    assert!(
        saw_backlog,
        "a producer faster than the budget leaves a backlog"
    );
    assert!(ticks >= u64::from(TOTAL) / BUDGET as u64);
    let log = &engine.world().resource::<Log>().0;
    let values: Vec<u32> = log.iter().map(|&(_, v)| v).collect();
    assert_eq!(
        values,
        (0..TOTAL).collect::<Vec<_>>(),
        "exactly once, in order"
    );
    assert!(
        log.windows(2).all(|w| w[0].0 <= w[1].0),
        "ticks never go back"
    );

    let stats = engine.tick().unwrap().sources[0];
    assert_eq!(stats.collected, 0);
    assert!(
        stats.disconnected,
        "all senders are gone and the channel is drained"
    );
}

#[test]
fn budget_spreads_a_burst_over_ticks_without_dropping() {
    let (mut engine, sender) = engine_with_source(SourceConfig::unbounded().budget(3));
    sender.send_batch((0..8).map(Input).collect()).unwrap();
    let per_tick: Vec<(usize, usize)> = (0..4)
        .map(|_| {
            let stats = engine.tick().unwrap().sources[0];
            (stats.collected, stats.backlog)
        })
        .collect();
    assert_eq!(per_tick, vec![(3, 5), (3, 2), (2, 0), (0, 0)]);
    let log = &engine.world().resource::<Log>().0;
    assert_eq!(
        log,
        &[
            (0, 0),
            (0, 1),
            (0, 2),
            (1, 3),
            (1, 4),
            (1, 5),
            (2, 6),
            (2, 7)
        ]
    );
}

#[test]
fn a_full_channel_gives_the_event_back() {
    let (mut engine, sender) = engine_with_source(SourceConfig::bounded(2));
    sender.try_send(Input(1)).unwrap();
    sender.try_send(Input(2)).unwrap();
    assert_eq!(sender.try_send(Input(3)), Err(TrySendError::Full(Input(3))));
    let error = sender.try_send_batch(vec![Input(4), Input(5)]).unwrap_err();
    assert_eq!(
        (error.sent, error.unsent, error.reason),
        (0, vec![Input(4), Input(5)], BatchStop::Full)
    );
    engine.tick().unwrap();
    sender.try_send(Input(3)).unwrap();
}

#[test]
fn sending_to_a_dropped_engine_is_an_error_not_a_panic() {
    let (engine, sender) = engine_with_source(SourceConfig::unbounded());
    drop(engine);
    assert_eq!(sender.send(Input(7)).unwrap_err().0, Input(7));
    let error = sender.send_batch(vec![Input(8), Input(9)]).unwrap_err();
    assert_eq!(error.unsent, vec![Input(8), Input(9)]);
    assert_eq!(error.reason, BatchStop::Disconnected);
}

#[test]
fn sources_are_collected_in_registration_order() {
    #[derive(Resource, Default)]
    struct Order(Vec<u32>);
    let mut app = App::new();
    let second_type = app.add_source::<Input>(SourceConfig::unbounded().name("first"));
    let first_type = app.add_source::<Input>(SourceConfig::unbounded().name("second"));
    app.init_resource::<Order>().add_systems(
        |inputs: EventReader<Input>, mut order: ResMut<Order>| {
            order.0.extend(inputs.iter().map(|i| i.0));
        },
    );
    let mut engine = app.build().unwrap();
    first_type.send(Input(2)).unwrap();
    second_type.send(Input(1)).unwrap();
    thread::sleep(Duration::from_millis(1));
    engine.tick().unwrap();
    assert_eq!(engine.world().resource::<Order>().0, vec![1, 2]);
    assert_eq!(
        engine.source_names().collect::<Vec<_>>(),
        vec!["first", "second"]
    );
}

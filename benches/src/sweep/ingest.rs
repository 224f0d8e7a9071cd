//! The ingestion sweep: events arriving from producer threads, per frame, through a tickbus
//! channel source (one event per send, or batches) and through a bare crossbeam channel
//! (one event per message, or one `Vec` per batch), the same producers for all four.
//!
//! A frame: every producer thread is told to send its slice of the frame's events; the
//! consumer (the measuring thread) runs until it has received all of them. For tickbus the
//! consumer ticks the engine (a reader system checksums the collected events); for crossbeam
//! it receives and checksums directly.

use std::{
    hint::black_box,
    ops::Range,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread::JoinHandle,
};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use serde::{Deserialize, Serialize};
use tickbus::{App, Engine, EventReader, EventSender, SourceConfig, prelude::Res};

use super::{
    measure::{Contestant, Sampling, sample_interleaved},
    report::{Point, RatioSpec},
};
use crate::events::{BenchEvent, Payload};

/// tickbus source, one `EventSender::send` per event.
pub const TICKBUS_SEND: &str = "tickbus_send";
/// tickbus source, `EventSender::send_batch` per batch, built in the buffers the engine
/// hands back (`EventSender::batch_buffer`).
pub const TICKBUS_BATCH: &str = "tickbus_batch";
/// A bare crossbeam channel, one message per event.
pub const CROSSBEAM_SEND: &str = "crossbeam_send";
/// A bare crossbeam channel, one `Vec` message per batch (a new `Vec` each).
pub const CROSSBEAM_BATCH: &str = "crossbeam_batch";

/// What the ingestion sweep measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IngestConfig {
    /// Events per frame over all producers, one point each.
    pub events_per_frame: Vec<usize>,
    /// Producer threads, one point each.
    pub producers: Vec<usize>,
    /// Events per batch of the batch contenders.
    pub batch: usize,
    /// Rounds and sample length.
    pub sampling: Sampling,
}

impl IngestConfig {
    /// Every point, as (events per frame, producers), producers outermost.
    pub fn points(&self) -> Vec<(usize, usize)> {
        self.producers
            .iter()
            .flat_map(|&p| self.events_per_frame.iter().map(move |&n| (n, p)))
            .collect()
    }
}

/// The ratios of the ingestion table: how many times faster batches are than one send per
/// event, and what tickbus costs over the bare channel.
pub fn ratio_specs() -> Vec<RatioSpec> {
    vec![
        RatioSpec::new("tickbus_send ÷ tickbus_batch", TICKBUS_SEND, TICKBUS_BATCH),
        RatioSpec::new(
            "crossbeam_send ÷ tickbus_batch",
            CROSSBEAM_SEND,
            TICKBUS_BATCH,
        ),
        RatioSpec::new(
            "tickbus_batch ÷ crossbeam_batch",
            TICKBUS_BATCH,
            CROSSBEAM_BATCH,
        ),
    ]
}

/// Measures one point: `events` per frame from `producers` threads.
pub fn measure_point(
    config: &IngestConfig,
    events: usize,
    producers: usize,
    after_round: impl FnMut(),
) -> Point {
    let batch = config.batch.max(1);
    let mut contestants = vec![
        tickbus_contestant(TICKBUS_SEND, events, producers, move |sender, range| {
            for i in range {
                sender.send(Payload::nth(i)).expect("the engine is alive");
            }
        }),
        tickbus_contestant(TICKBUS_BATCH, events, producers, move |sender, range| {
            for chunk in chunks(range, batch) {
                let mut events = sender.batch_buffer();
                events.extend(chunk.map(Payload::nth));
                sender.send_batch(events).expect("the engine is alive");
            }
        }),
        crossbeam_contestant(CROSSBEAM_SEND, events, producers, 1),
        crossbeam_contestant(CROSSBEAM_BATCH, events, producers, batch),
    ];
    let samples = sample_interleaved(&mut contestants, config.sampling, after_round);
    Point {
        events_per_frame: events,
        event_bytes: size_of::<Payload>(),
        writers: 0,
        readers: 1,
        producers: Some(producers),
        samples,
    }
}

/// `range` cut into consecutive pieces of at most `size`.
fn chunks(range: Range<usize>, size: usize) -> impl Iterator<Item = Range<usize>> {
    range
        .clone()
        .step_by(size)
        .map(move |start| start..(start + size).min(range.end))
}

/// Threads that each send their slice of a frame's events when told to.
struct Producers {
    go: Vec<Sender<Range<usize>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Producers {
    /// `count` threads, each running `job` on the slices it is given.
    fn spawn<J>(count: usize, job: impl Fn() -> J) -> Self
    where
        J: FnMut(Range<usize>) + Send + 'static,
    {
        let (go, threads) = (0..count)
            .map(|_| {
                let (tx, rx) = crossbeam_channel::bounded::<Range<usize>>(1);
                let mut job = job();
                let thread = std::thread::spawn(move || {
                    for range in rx {
                        job(range);
                    }
                });
                (tx, thread)
            })
            .unzip();
        Self { go, threads }
    }

    /// Tells every producer to send its share of `events`.
    fn start(&self, events: usize) {
        let count = self.go.len();
        for (index, go) in self.go.iter().enumerate() {
            let range = events * index / count..events * (index + 1) / count;
            go.send(range).expect("producers run until dropped");
        }
    }
}

impl Drop for Producers {
    fn drop(&mut self) {
        self.go.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// What the tickbus reader adds up.
#[derive(tickbus::prelude::Resource, Default)]
struct Received(AtomicU64);

fn tickbus_contestant(
    name: &str,
    events: usize,
    producers: usize,
    send: impl Fn(&EventSender<Payload>, Range<usize>) + Send + Sync + 'static,
) -> Contestant {
    let mut app = App::new();
    let sender = app.add_source::<Payload>(SourceConfig::unbounded());
    app.init_resource::<Received>();
    app.add_systems(|events: EventReader<Payload>, received: Res<Received>| {
        let sum = events
            .iter()
            .fold(0u64, |sum, event| sum.wrapping_add(event.fields()));
        received.0.fetch_add(black_box(sum), Ordering::Relaxed);
    });
    let mut engine = app.build().expect("a valid schedule");
    let send = Arc::new(send);
    let pool = Producers::spawn(producers, || {
        let (sender, send) = (sender.clone(), send.clone());
        move |range| send(&sender, range)
    });
    drop(sender);
    Contestant::new(name, move || {
        pool.start(events);
        collect_frame(&mut engine, events);
    })
}

/// Ticks until the frame's `events` have been collected.
fn collect_frame(engine: &mut Engine, events: usize) {
    let mut collected = 0;
    while collected < events {
        let stats = engine.tick().expect("the reader never fails");
        let this_tick = stats.sources[0].collected;
        if this_tick == 0 {
            std::thread::yield_now();
        }
        collected += this_tick;
    }
    assert_eq!(collected, events, "no event of the next frame was sent yet");
}

/// A bare crossbeam channel of `Vec`s of `batch` events (one event per message for 1).
fn crossbeam_contestant(name: &str, events: usize, producers: usize, batch: usize) -> Contestant {
    if batch == 1 {
        let (tx, rx) = crossbeam_channel::unbounded::<Payload>();
        let pool = Producers::spawn(producers, || {
            let tx = tx.clone();
            move |range: Range<usize>| {
                for i in range {
                    tx.send(Payload::nth(i)).expect("the consumer is alive");
                }
            }
        });
        return Contestant::new(name, move || {
            pool.start(events);
            black_box(receive(&rx, events, |event| (1, event.fields())));
        });
    }
    let (tx, rx) = crossbeam_channel::unbounded::<Vec<Payload>>();
    let pool = Producers::spawn(producers, || {
        let tx = tx.clone();
        move |range: Range<usize>| {
            for chunk in chunks(range, batch) {
                tx.send(chunk.map(Payload::nth).collect())
                    .expect("the consumer is alive");
            }
        }
    });
    Contestant::new(name, move || {
        pool.start(events);
        black_box(receive(&rx, events, |batch: &Vec<Payload>| {
            let fields = batch
                .iter()
                .fold(0u64, |sum, event| sum.wrapping_add(event.fields()));
            (batch.len(), fields)
        }));
    })
}

/// Receives messages until `events` events arrived; their checksum. Like the tickbus
/// consumer, it polls and yields while the channel is empty (a blocking receive would park
/// the thread and make every producer pay for waking it).
fn receive<M>(rx: &Receiver<M>, events: usize, open: impl Fn(&M) -> (usize, u64)) -> u64 {
    let mut received = 0;
    let mut sum = 0u64;
    while received < events {
        match rx.try_recv() {
            Ok(message) => {
                let (count, fields) = open(&message);
                received += count;
                sum = sum.wrapping_add(fields);
            }
            Err(TryRecvError::Empty) => std::thread::yield_now(),
            Err(TryRecvError::Disconnected) => panic!("producers run until dropped"),
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn chunks_cover_the_range_in_order() {
        let pieces: Vec<Range<usize>> = chunks(3..13, 4).collect();
        assert_eq!(pieces, [3..7, 7..11, 11..13]);
    }

    #[test]
    fn every_contender_moves_the_whole_frame() {
        let config = IngestConfig {
            events_per_frame: vec![1000],
            producers: vec![2],
            batch: 64,
            sampling: Sampling {
                rounds: 2,
                frames: Some(3),
                sample_time: Duration::ZERO,
            },
        };
        let point = measure_point(&config, 1000, 2, || {});
        let names: Vec<&str> = point.samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [TICKBUS_SEND, TICKBUS_BATCH, CROSSBEAM_SEND, CROSSBEAM_BATCH]
        );
        assert!(point.samples.iter().all(|s| s.ns_per_frame.len() == 2));
    }
}

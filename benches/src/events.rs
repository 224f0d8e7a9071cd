//! The event workload: writer systems send N events per frame (16 or 64 bytes) and reader
//! systems each checksum every event, for every contender, plus a raw `Vec` floor.
//!
//! * tickbus: [`Engine::tick`](tickbus::Engine::tick); each writer fills its private buffer,
//!   the buffers are merged into the queue, the queue swaps at the start of the next tick and
//!   the readers read it there (one tick of latency, N events per tick in steady state).
//!   Nothing is ordered: writers and readers never conflict.
//! * tickbus with folds ([`add_tickbus_fold_workload`]): the same writers, each reader an
//!   event fold ([`App::add_event_fold`]): the engine runs all readers over one chunk of the
//!   events while it is in the L1 cache, the chunks spread over its threads, and adds each
//!   reader's per-chunk checksums into its sum.
//! * bevy: `Messages` with `MessageWriter` / `MessageReader` systems in a `Schedule`,
//!   `message_update_system` first, the readers after the writers.
//!
//! Every contender is checked after its warm-up: each reader must have summed exactly the
//! events written.

use std::{
    hint::black_box,
    sync::atomic::{AtomicU64, Ordering},
};

use bevy_ecs::{
    message::{Message, MessageReader, MessageRegistry, MessageWriter, message_update_system},
    prelude::{IntoScheduleConfigs, Res, Resource, World},
    schedule::SystemSet,
};
use tickbus::{App, EventReader, EventWriter, ExecutorKind};

use crate::{BevySim, Contender, Sim, tickbus_app};

/// Events per frame in the benchmarks.
pub const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Reader systems per frame in the benchmarks.
pub const READERS: [usize; 3] = [1, 2, 4];
/// Frames before the correctness check and the measurement.
const WARM_UP_FRAMES: u64 = 40;

/// An event type of the workload: built from its index, folded into a checksum by readers.
pub trait BenchEvent: Message + Copy {
    /// The event's size in bytes.
    const BYTES: usize = size_of::<Self>();

    /// The `i`-th event written in a frame.
    fn nth(i: usize) -> Self;

    /// What a reader adds to its checksum for this event (every field is read).
    fn fields(&self) -> u64;
}

/// The 16-byte event.
#[derive(Message, Clone, Copy, Debug)]
pub struct Payload {
    id: u64,
    value: f32,
    kind: u32,
}

const _: () = assert!(size_of::<Payload>() == 16);

impl BenchEvent for Payload {
    fn nth(i: usize) -> Self {
        Payload {
            id: i as u64,
            value: i as f32,
            kind: (i & 7) as u32,
        }
    }

    fn fields(&self) -> u64 {
        self.id ^ (u64::from(self.kind) << 32) ^ u64::from(self.value.to_bits())
    }
}

/// The 64-byte event: the 16-byte one and six more words.
#[derive(Message, Clone, Copy, Debug)]
pub struct Payload64 {
    head: Payload,
    words: [u64; 6],
}

const _: () = assert!(size_of::<Payload64>() == 64);

impl BenchEvent for Payload64 {
    fn nth(i: usize) -> Self {
        let i64 = i as u64;
        Payload64 {
            head: Payload::nth(i),
            words: [i64, i64 << 1, i64 << 2, i64 << 3, i64 << 4, i64 << 5],
        }
    }

    fn fields(&self) -> u64 {
        self.words
            .iter()
            .fold(self.head.fields(), |sum, word| sum.rotate_left(5) ^ word)
    }
}

/// The work of one reader: a checksum over every field of every event it sees.
pub(crate) fn checksum<'a, E: BenchEvent>(events: impl Iterator<Item = &'a E>) -> u64 {
    events.fold(0, |sum, event| sum.wrapping_add(event.fields()))
}

/// The shape of an event workload: how many events per frame, writers and readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Events written per frame, over all writers.
    pub events: usize,
    /// Writer systems; writer `w` writes the `w`-th of `writers` equal slices of the frame.
    pub writers: usize,
    /// Reader systems, each reading every event.
    pub readers: usize,
}

impl Shape {
    /// The events of writer `writer`: indices `start..end` of the frame.
    fn slice(&self, writer: usize) -> std::ops::Range<usize> {
        let start = self.events * writer / self.writers;
        let end = self.events * (writer + 1) / self.writers;
        start..end
    }
}

/// The shape of the workload, as a resource the writers read.
#[derive(Resource)]
struct FrameShape(Shape);

/// One running sum per reader. Atomic so that readers take shared access only and stay
/// independent of each other (one relaxed add per reader and frame).
///
/// `Default` (no reader) only because [`App::add_event_fold`] requires a resource it could
/// make; the workloads insert the real one, sized for their readers, before adding folds.
#[derive(Resource, Default)]
struct ReadSums(Vec<AtomicU64>);

impl ReadSums {
    fn add(&self, reader: usize, sum: u64) {
        self.0[reader].fetch_add(black_box(sum), Ordering::Relaxed);
    }

    fn get(&self, reader: usize) -> u64 {
        self.0[reader].load(Ordering::Relaxed)
    }
}

fn insert_resources(world: &mut World, shape: Shape) {
    world.insert_resource(FrameShape(shape));
    world.insert_resource(ReadSums(
        (0..shape.readers).map(|_| AtomicU64::new(0)).collect(),
    ));
}

/// Adds the workload's writers and readers to a tickbus app, each reader an
/// [`EventReader`] system.
pub fn add_tickbus_workload<E: BenchEvent>(app: &mut App, shape: Shape) {
    add_tickbus_writers::<E>(app, shape);
    for reader in 0..shape.readers {
        app.add_systems(move |events: EventReader<E>, sums: Res<ReadSums>| {
            sums.add(reader, checksum(events.iter()));
        });
    }
}

/// Adds the workload's writers and readers to a tickbus app, each reader an event fold: a
/// checksum per chunk, the chunks' checksums added to the reader's sum. Wrapping addition is
/// associative, so the sum is the one a reader system computes over the whole tick.
pub fn add_tickbus_fold_workload<E: BenchEvent>(app: &mut App, shape: Shape) {
    add_tickbus_writers::<E>(app, shape);
    for reader in 0..shape.readers {
        app.add_event_fold(
            |events: &[E]| checksum(events.iter()),
            move |sums: &mut ReadSums, partial| sums.add(reader, partial),
        );
    }
}

/// The resources, the event type and the writers of a tickbus workload.
fn add_tickbus_writers<E: BenchEvent>(app: &mut App, shape: Shape) {
    insert_resources(app.world_mut(), shape);
    app.add_event::<E>();
    for writer in 0..shape.writers {
        app.add_systems(move |frame: Res<FrameShape>, mut out: EventWriter<E>| {
            out.send_batch(frame.0.slice(writer).map(E::nth));
        });
    }
}

/// How the readers of a tickbus workload are built: [`add_tickbus_workload`] or
/// [`add_tickbus_fold_workload`].
pub type TickbusWorkload = fn(&mut App, Shape);

/// A tickbus engine on `executor` with `workload` of `E` events, warmed up and checked.
pub fn tickbus_sim<E: BenchEvent>(
    executor: ExecutorKind,
    shape: Shape,
    workload: TickbusWorkload,
) -> Sim {
    let mut app = App::new();
    app.set_executor(executor);
    workload(&mut app, shape);
    let mut sim = Sim::tickbus(app);
    warm_and_check::<E>(&mut sim, shape, true);
    sim
}

/// The set of bevy writer systems, which the readers follow.
#[derive(SystemSet, Clone, Debug, PartialEq, Eq, Hash)]
struct BevyWriters;

/// Adds the workload's writers and readers to a bevy world and schedule.
pub fn add_bevy_workload<E: BenchEvent>(bevy: &mut BevySim, shape: Shape) {
    insert_resources(&mut bevy.world, shape);
    MessageRegistry::register_message::<E>(&mut bevy.world);
    bevy.schedule
        .add_systems(message_update_system.before(BevyWriters));
    for writer in 0..shape.writers {
        bevy.schedule.add_systems(
            (move |frame: Res<FrameShape>, mut out: MessageWriter<E>| {
                out.write_batch(frame.0.slice(writer).map(E::nth));
            })
            .in_set(BevyWriters),
        );
    }
    for reader in 0..shape.readers {
        bevy.schedule.add_systems(
            (move |mut events: MessageReader<E>, sums: Res<ReadSums>| {
                sums.add(reader, checksum(events.read()));
            })
            .after(BevyWriters),
        );
    }
}

/// Runs the warm-up and checks it: panics unless every reader summed every event written.
/// `one_tick_late`: the readers see a frame's writes in the next frame (tickbus).
pub fn warm_and_check<E: BenchEvent>(sim: &mut Sim, shape: Shape, one_tick_late: bool) {
    sim.run(WARM_UP_FRAMES as usize);
    let frames_read = WARM_UP_FRAMES - u64::from(one_tick_late);
    let per_frame = checksum((0..shape.events).map(E::nth).collect::<Vec<E>>().iter());
    let sums = sim.world().resource::<ReadSums>();
    for reader in 0..shape.readers {
        assert_eq!(
            sums.get(reader),
            per_frame.wrapping_mul(frames_read),
            "reader {reader} missed events"
        );
    }
}

/// One writer and `readers` readers of `size` 16-byte events per frame, warmed up and checked.
pub fn event_sim(contender: Contender, readers: usize, size: usize) -> Sim {
    assert!((1..=4).contains(&readers), "1 to 4 readers");
    let shape = Shape {
        events: size,
        writers: 1,
        readers,
    };
    let mut sim = if contender.is_tickbus() {
        let mut app = tickbus_app(contender);
        add_tickbus_workload::<Payload>(&mut app, shape);
        Sim::tickbus(app)
    } else {
        let mut bevy = BevySim::new(contender);
        add_bevy_workload::<Payload>(&mut bevy, shape);
        Sim::Bevy(Box::new(bevy))
    };
    warm_and_check::<Payload>(&mut sim, shape, contender.is_tickbus());
    sim
}

/// The floor: a reused vector filled by `extend` (one call per writer), then read once per
/// reader.
pub struct RawVec<E = Payload> {
    events: Vec<E>,
    sums: Vec<u64>,
    shape: Shape,
}

impl<E: BenchEvent> RawVec<E> {
    /// A warm vector for the workload `shape`.
    pub fn with_shape(shape: Shape) -> Self {
        let mut raw = Self {
            events: Vec::with_capacity(shape.events),
            sums: vec![0; shape.readers],
            shape,
        };
        raw.frame();
        raw
    }

    /// One frame: clear, extend once per writer, read once per reader.
    pub fn frame(&mut self) {
        self.events.clear();
        for writer in 0..self.shape.writers {
            self.events.extend(self.shape.slice(writer).map(E::nth));
        }
        for sum in &mut self.sums {
            // `black_box` on the slice: each pass really reads the buffer again.
            let pass = checksum(black_box(self.events.as_slice()).iter());
            *sum = black_box(sum.wrapping_add(pass));
        }
    }
}

impl RawVec<Payload> {
    /// A warm vector for one writer and `readers` readers of `size` 16-byte events.
    pub fn new(readers: usize, size: usize) -> Self {
        Self::with_shape(Shape {
            events: size,
            writers: 1,
            readers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_slices_cover_the_frame_once() {
        let shape = Shape {
            events: 10,
            writers: 3,
            readers: 1,
        };
        let covered: Vec<usize> = (0..3).flat_map(|w| shape.slice(w)).collect();
        assert_eq!(covered, (0..10).collect::<Vec<_>>());
    }

    /// 5,000 events: 5 chunks of 16-byte events (the last one short), 20 of 64-byte ones;
    /// a merge that lost or repeated a chunk's partial would miss the expected sums.
    #[test]
    fn every_fold_reader_sums_every_event_over_many_chunks() {
        const EVENTS: usize = 5_000;
        assert!(EVENTS.div_ceil(tickbus::fold_chunk_len::<Payload>()) >= 5);
        // `forced_parallel` offers every loop to the worker, so chunks run on both threads.
        let executors = [ExecutorKind::forced_parallel(2), ExecutorKind::Sequential];
        for executor in executors {
            for readers in [1, 3, 4] {
                let shape = Shape {
                    events: EVENTS,
                    writers: 1,
                    readers,
                };
                // `tickbus_sim` panics naming the reader whose sum is wrong.
                tickbus_sim::<Payload>(executor, shape, add_tickbus_fold_workload::<Payload>);
                tickbus_sim::<Payload64>(executor, shape, add_tickbus_fold_workload::<Payload64>);
            }
        }
    }
}

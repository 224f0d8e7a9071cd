//! The event workload: one writer system sends N 16-byte events per frame and R reader
//! systems each checksum every event, for every contender, plus a raw `Vec` floor.
//!
//! * tickbus: [`Engine::tick`](tickbus::Engine::tick); the writer fills its private buffer,
//!   the buffer is merged into the queue, the queue swaps at the start of the next tick and the
//!   readers read it there (one tick of latency, N events per tick in steady state). Nothing
//!   is ordered: writers and readers never conflict.
//! * bevy: `Messages` with `MessageWriter` / `MessageReader` systems in a `Schedule`,
//!   `message_update_system` first, the readers after the writer.
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
};
use tickbus::{EventReader, EventWriter};

use crate::{BevySim, Contender, Sim, tickbus_app};

/// Events per frame in the benchmarks.
pub const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Reader systems per frame in the benchmarks.
pub const READERS: [usize; 3] = [1, 2, 4];
/// Frames before the correctness check and the measurement.
const WARM_UP_FRAMES: u64 = 40;

/// The event: 16 bytes.
#[derive(Message, Clone, Copy, Debug)]
pub struct Payload {
    id: u64,
    value: f32,
    kind: u32,
}

const _: () = assert!(size_of::<Payload>() == 16);

fn payload(i: usize) -> Payload {
    Payload {
        id: i as u64,
        value: i as f32,
        kind: (i & 7) as u32,
    }
}

/// The work of one reader: a checksum over every field of every event it sees.
fn checksum<'a>(events: impl Iterator<Item = &'a Payload>) -> u64 {
    events.fold(0, |sum, event| {
        let fields = event.id ^ (u64::from(event.kind) << 32) ^ u64::from(event.value.to_bits());
        sum.wrapping_add(fields)
    })
}

/// Events written per frame.
#[derive(Resource)]
struct FrameSize(usize);

/// One running sum per reader. Atomic so that readers take shared access only and stay
/// independent of each other (one relaxed add per reader and frame).
#[derive(Resource, Default)]
struct ReadSums([AtomicU64; 4]);

impl ReadSums {
    fn add(&self, reader: usize, sum: u64) {
        self.0[reader].fetch_add(black_box(sum), Ordering::Relaxed);
    }

    fn get(&self, reader: usize) -> u64 {
        self.0[reader].load(Ordering::Relaxed)
    }
}

fn tickbus_writer(size: Res<FrameSize>, mut out: EventWriter<Payload>) {
    out.send_batch((0..size.0).map(payload));
}

fn bevy_writer(size: Res<FrameSize>, mut out: MessageWriter<Payload>) {
    out.write_batch((0..size.0).map(payload));
}

fn insert_resources(world: &mut World, size: usize) {
    world.insert_resource(FrameSize(size));
    world.init_resource::<ReadSums>();
}

fn tickbus_sim(contender: Contender, readers: usize, size: usize) -> Sim {
    let mut app = tickbus_app(contender);
    insert_resources(app.world_mut(), size);
    app.add_event::<Payload>().add_systems(tickbus_writer);
    for reader in 0..readers {
        app.add_systems(move |events: EventReader<Payload>, sums: Res<ReadSums>| {
            sums.add(reader, checksum(events.iter()));
        });
    }
    Sim::tickbus(app)
}

fn bevy_sim(contender: Contender, readers: usize, size: usize) -> Sim {
    let mut bevy = BevySim::new(contender);
    insert_resources(&mut bevy.world, size);
    MessageRegistry::register_message::<Payload>(&mut bevy.world);
    bevy.schedule
        .add_systems((message_update_system, bevy_writer).chain());
    for reader in 0..readers {
        bevy.schedule.add_systems(
            (move |mut events: MessageReader<Payload>, sums: Res<ReadSums>| {
                sums.add(reader, checksum(events.read()));
            })
            .after(bevy_writer),
        );
    }
    Sim::Bevy(Box::new(bevy))
}

/// One writer and `readers` readers of `size` events per frame, warmed up and checked.
pub fn event_sim(contender: Contender, readers: usize, size: usize) -> Sim {
    assert!((1..=4).contains(&readers), "1 to 4 readers");
    let mut sim = if contender.is_tickbus() {
        tickbus_sim(contender, readers, size)
    } else {
        bevy_sim(contender, readers, size)
    };
    sim.run(WARM_UP_FRAMES as usize);
    // tickbus readers see a tick's writes in the next tick; bevy's in the same frame.
    let frames_read = WARM_UP_FRAMES - u64::from(contender.is_tickbus());
    check_sums(
        sim.world().resource::<ReadSums>(),
        readers,
        size,
        frames_read,
    );
    sim
}

/// Panics unless every reader summed exactly `frames` frames of `size` events.
fn check_sums(sums: &ReadSums, readers: usize, size: usize, frames: u64) {
    let frame: Vec<Payload> = (0..size).map(payload).collect();
    let per_frame = checksum(frame.iter());
    for reader in 0..readers {
        assert_eq!(
            sums.get(reader),
            per_frame.wrapping_mul(frames),
            "reader {reader} missed events"
        );
    }
}

/// The floor: a reused vector filled by pushes, then read once per reader.
pub struct RawVec {
    events: Vec<Payload>,
    sums: Vec<u64>,
    size: usize,
}

impl RawVec {
    /// A warm vector for `readers` readers of `size` events.
    pub fn new(readers: usize, size: usize) -> Self {
        let mut raw = Self {
            events: Vec::with_capacity(size),
            sums: vec![0; readers],
            size,
        };
        raw.frame();
        raw
    }

    /// One frame: clear, fill, read once per reader.
    pub fn frame(&mut self) {
        self.events.clear();
        self.events.extend((0..self.size).map(payload));
        for sum in &mut self.sums {
            // `black_box` on the slice: each pass really reads the buffer again.
            let pass = checksum(black_box(self.events.as_slice()).iter());
            *sum = black_box(sum.wrapping_add(pass));
        }
    }
}

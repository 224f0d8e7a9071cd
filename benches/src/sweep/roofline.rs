//! `--roofline`: what the hardware allows for the throughput workload, measured in the same
//! process and interleaved with the throughput contenders (tickbus with reader systems and
//! with folds, bevy, the raw `Vec`), so the table says how far each is from the floor and
//! whether a ratio against bevy is reachable at all.
//!
//! The floors run the workload's own code (the writer's `extend` of `E::nth`, the readers'
//! checksum) on plain `Vec`s, for one writer and `readers` readers:
//!
//! * `floor_compute`: the same work on a buffer of 4,096 events that stays in the L2 cache:
//!   what the per-event code costs with no memory traffic (one thread).
//! * `floor_stream`: the frame's data streamed once, summed as `u64` words: the memory
//!   bandwidth of one thread, no per-event work.
//! * `floor_two_buffers`: the queue's data flow on one thread: write this frame's events into
//!   one buffer, read last frame's from the other, the buffers alternating.
//! * `floor_readers_first`: the same, reading last frame's buffer before writing this
//!   frame's, so the reads find the data the previous frame wrote last.
//! * `floor_systems_par`: the same with the writer and readers as whole jobs spread over the
//!   machine's threads round-robin (what a perfect executor could do with whole systems).
//! * `floor_split_par`: the same work cut evenly over the threads, every pass split in parts
//!   (no executor can do this with whole systems: the bound of the machine).
//! * `floor_fused_par`: the data flow of event folds: the writer on one thread while every
//!   thread takes L1-sized chunks of last frame's buffer (the folds' chunk length) and reads
//!   each chunk once per reader; the writer's thread joins the chunks when it has written.
//!   One read pass from memory per frame instead of one per reader.
//! * `floor_write_fold_par`: the data flow of folding at write time (see [`super::pipelined`]):
//!   the other threads fold each chunk of this frame as soon as the writer has written it,
//!   on threads that live as long as the floor.
//! * `floor_writer`: the writer alone, into the two alternating buffers: what storing one
//!   frame's events costs the thread that writes them (one thread).
//! * `floor_reads_l1`: the readers alone, each chunk of the folds' length in the L1 cache
//!   when it is read: the readers' work with no memory traffic at all (one thread).
//!
//! The parallel floors other than `floor_write_fold_par` start scoped threads every frame
//! (tens of microseconds): they are meant for large frames.
//!
//! One more row is not run but computed, round by round, from two floors of the same round:
//! `bound_par` = max(`floor_writer`, (`floor_writer` + `floor_reads_l1`) ÷ threads), saved
//! with 0 frames per sample to mark it computed. It is an idealised estimate, not a measured
//! data flow, and a bound only under its assumptions: one thread runs this writer's code for
//! the whole frame, each reader makes its own pass over the events (as `read` does, with
//! `black_box` keeping the passes apart), at best from L1 and with the readers' work split
//! perfectly over the threads, nothing lost to the other core's traffic. A design that does
//! less reader work (folding each event inside the writer's loop, or one pass for all
//! readers) is outside it. And one round's figure is noisy: both floors are one-thread
//! samples taken while the other core was idle, so a round of another contender can beat it.

use std::{
    hint::black_box,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

use super::{
    measure::{Contestant, Samples, sample_interleaved},
    pipelined::PipelinedFrames,
    report::{Point, RatioSpec},
    throughput::{BEST_BEVY, EVENT_BYTES, SweepConfig, TICKBUS, TICKBUS_FOLD, contestants},
};
use crate::events::{BenchEvent, Payload, Payload64, Shape, checksum};

/// Compute only: the frame's work on an L2-resident buffer.
pub const FLOOR_COMPUTE: &str = "floor_compute";
/// One streaming pass over the frame's bytes.
pub const FLOOR_STREAM: &str = "floor_stream";
/// The queue's data flow, one thread.
pub const FLOOR_TWO_BUFFERS: &str = "floor_two_buffers";
/// The queue's data flow, one thread, the readers before the writer.
pub const FLOOR_READERS_FIRST: &str = "floor_readers_first";
/// The queue's data flow, whole jobs over the threads.
pub const FLOOR_SYSTEMS_PAR: &str = "floor_systems_par";
/// The queue's data flow, every pass split over the threads.
pub const FLOOR_SPLIT_PAR: &str = "floor_split_par";
/// The folds' data flow: readers fused over L1-sized chunks, chunks over the threads.
pub const FLOOR_FUSED_PAR: &str = "floor_fused_par";
/// Folding at write time: chunks folded by the other threads as soon as they are written.
pub const FLOOR_WRITE_FOLD_PAR: &str = "floor_write_fold_par";
/// The writer alone, into the alternating buffers.
pub const FLOOR_WRITER: &str = "floor_writer";
/// The readers alone, on L1-resident chunks.
pub const FLOOR_READS_L1: &str = "floor_reads_l1";
/// Computed from [`FLOOR_WRITER`] and [`FLOOR_READS_L1`]: an idealised estimate of the
/// machine's bound for this workload, under the assumptions in the module docs.
pub const BOUND_PAR: &str = "bound_par";

/// Events in the buffer of [`FLOOR_COMPUTE`] (64 KB of 16-byte events, 256 KB of 64-byte
/// ones).
const L2_EVENTS: usize = 4096;

/// The ratios of the roofline table: how much faster than the best bevy tickbus (with
/// reader systems and with folds) is and could be, and how far tickbus is from the floors
/// (reader systems from whole systems spread over the threads, folds from fused chunks).
pub fn ratio_specs() -> Vec<RatioSpec> {
    vec![
        RatioSpec::new("best bevy ÷ tickbus", BEST_BEVY, TICKBUS),
        RatioSpec::new("best bevy ÷ tickbus_fold", BEST_BEVY, TICKBUS_FOLD),
        RatioSpec::new(
            "best bevy ÷ floor_systems_par",
            BEST_BEVY,
            FLOOR_SYSTEMS_PAR,
        ),
        RatioSpec::new("best bevy ÷ floor_split_par", BEST_BEVY, FLOOR_SPLIT_PAR),
        RatioSpec::new("tickbus ÷ floor_systems_par", TICKBUS, FLOOR_SYSTEMS_PAR),
        RatioSpec::new("best bevy ÷ floor_fused_par", BEST_BEVY, FLOOR_FUSED_PAR),
        RatioSpec::new(
            "tickbus_fold ÷ floor_fused_par",
            TICKBUS_FOLD,
            FLOOR_FUSED_PAR,
        ),
        RatioSpec::new(
            "best bevy ÷ floor_write_fold_par",
            BEST_BEVY,
            FLOOR_WRITE_FOLD_PAR,
        ),
        RatioSpec::new(
            "tickbus_fold ÷ floor_write_fold_par",
            TICKBUS_FOLD,
            FLOOR_WRITE_FOLD_PAR,
        ),
        RatioSpec::new("best bevy ÷ bound_par", BEST_BEVY, BOUND_PAR),
        RatioSpec::new("tickbus_fold ÷ bound_par", TICKBUS_FOLD, BOUND_PAR),
        RatioSpec::new(
            "floor_two_buffers ÷ floor_compute",
            FLOOR_TWO_BUFFERS,
            FLOOR_COMPUTE,
        ),
        RatioSpec::new(
            "floor_two_buffers ÷ floor_readers_first",
            FLOOR_TWO_BUFFERS,
            FLOOR_READERS_FIRST,
        ),
    ]
}

/// Measures one roofline point (16- or 64-byte events, one writer): the throughput
/// contenders and the floors, interleaved.
pub fn measure_point(
    config: &SweepConfig,
    events: usize,
    bytes: usize,
    after_round: impl FnMut(),
) -> Point {
    let shape = Shape {
        events,
        writers: 1,
        readers: config.readers,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut all = match bytes {
        16 => with_floors::<Payload>(config, shape, threads),
        64 => with_floors::<Payload64>(config, shape, threads),
        other => panic!("event size {other} is not one of {EVENT_BYTES:?}"),
    };
    let mut samples = sample_interleaved(&mut all, config.sampling, after_round);
    samples.extend(parallel_bound(&samples, threads));
    Point {
        events_per_frame: events,
        event_bytes: bytes,
        writers: 1,
        readers: config.readers,
        producers: None,
        samples,
    }
}

/// [`BOUND_PAR`], round by round from the rounds of [`FLOOR_WRITER`] and [`FLOOR_READS_L1`]
/// (`None` if either is missing).
fn parallel_bound(samples: &[Samples], threads: usize) -> Option<Samples> {
    let find = |name: &str| samples.iter().find(|samples| samples.name == name);
    let (writer, reads) = (find(FLOOR_WRITER)?, find(FLOOR_READS_L1)?);
    let threads = threads.max(1) as f64;
    let ns_per_frame = writer
        .ns_per_frame
        .iter()
        .zip(&reads.ns_per_frame)
        .map(|(writer, reads)| writer.max((writer + reads) / threads))
        .collect();
    Some(Samples {
        name: BOUND_PAR.to_owned(),
        // Not run: computed from the two floors' samples.
        frames_per_sample: 0,
        ns_per_frame,
        executor: None,
    })
}

fn with_floors<E: BenchEvent + Sync + Send>(
    config: &SweepConfig,
    shape: Shape,
    threads: usize,
) -> Vec<Contestant> {
    let mut all = contestants::<E>(config, shape);
    all.extend(floors::<E>(shape, threads));
    all
}

/// The floor contenders of `shape` on `threads` threads.
pub fn floors<E: BenchEvent + Sync + Send>(shape: Shape, threads: usize) -> Vec<Contestant> {
    let mut compute = Frames::<E>::new(L2_EVENTS.min(shape.events.max(1)));
    let rounds = shape.events.div_ceil(L2_EVENTS).max(1);
    let words: Vec<u64> = (0..(shape.events * E::BYTES / 8) as u64).collect();
    let mut sequential = Frames::<E>::new(shape.events);
    let mut readers_first = Frames::<E>::new(shape.events);
    let mut systems = Frames::<E>::new(shape.events);
    let mut split = Frames::<E>::new(shape.events);
    let mut fused = Frames::<E>::new(shape.events);
    let mut write_fold = PipelinedFrames::<E>::new(shape.events, shape.readers, threads);
    let mut writer_alone = Frames::<E>::new(shape.events);
    let chunk = Frames::<E>::new(l1_chunk_events::<E>(shape.events));
    let readers = shape.readers;
    vec![
        Contestant::new(FLOOR_COMPUTE, move || {
            for _ in 0..rounds {
                compute.same_buffer(readers);
            }
        }),
        Contestant::new(FLOOR_STREAM, move || {
            let sum = black_box(words.as_slice())
                .iter()
                .fold(0u64, |sum, word| sum.wrapping_add(*word));
            black_box(sum);
        }),
        Contestant::new(FLOOR_TWO_BUFFERS, move || {
            sequential.two_buffers(readers, Order::WriterFirst)
        }),
        Contestant::new(FLOOR_READERS_FIRST, move || {
            readers_first.two_buffers(readers, Order::ReadersFirst)
        }),
        Contestant::new(FLOOR_SYSTEMS_PAR, move || {
            systems.systems_parallel(readers, threads)
        }),
        Contestant::new(FLOOR_SPLIT_PAR, move || {
            split.split_parallel(readers, threads)
        }),
        Contestant::new(FLOOR_FUSED_PAR, move || {
            black_box(fused.fused_parallel(readers, threads));
        }),
        Contestant::new(FLOOR_WRITE_FOLD_PAR, move || {
            black_box(write_fold.frame());
        }),
        Contestant::new(FLOOR_WRITER, move || writer_alone.writer_only()),
        Contestant::new(FLOOR_READS_L1, move || {
            black_box(chunk.reads_in_l1(readers, shape.events));
        }),
    ]
}

/// Events in the chunk `floor_reads_l1` reads again and again: the folds' chunk (16 KiB, in
/// the L1 cache), or the whole frame if it is smaller.
fn l1_chunk_events<E>(events: usize) -> usize {
    tickbus::fold_chunk_len::<E>().min(events.max(1))
}

/// Whether a one-thread frame writes before or after it reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    WriterFirst,
    ReadersFirst,
}

/// Two reused buffers of `events` events; `current` is the one written this frame.
struct Frames<E> {
    buffers: [Vec<E>; 2],
    events: usize,
    current: usize,
}

impl<E: BenchEvent + Sync> Frames<E> {
    fn new(events: usize) -> Self {
        let filled = || (0..events).map(E::nth).collect::<Vec<E>>();
        Self {
            buffers: [filled(), filled()],
            events,
            current: 0,
        }
    }

    /// Write, then read the same buffer `readers` times (the raw `Vec`'s data flow).
    fn same_buffer(&mut self, readers: usize) {
        let buffer = &mut self.buffers[0];
        write_into(buffer, 0..self.events);
        for _ in 0..readers {
            read(buffer);
        }
    }

    /// This frame's buffer and last frame's, after the alternation.
    fn turn(&mut self) -> (&mut Vec<E>, &Vec<E>) {
        self.current ^= 1;
        let [first, second] = &mut self.buffers;
        if self.current == 0 {
            (first, second)
        } else {
            (second, first)
        }
    }

    fn two_buffers(&mut self, readers: usize, order: Order) {
        let events = self.events;
        let (written, readable) = self.turn();
        if order == Order::WriterFirst {
            write_into(written, 0..events);
        }
        for _ in 0..readers {
            read(readable);
        }
        if order == Order::ReadersFirst {
            write_into(written, 0..events);
        }
    }

    /// Job 0 is the writer, jobs 1..=readers the readers; thread `t` runs jobs `t`,
    /// `t + threads`, ... in order.
    fn systems_parallel(&mut self, readers: usize, threads: usize) {
        let events = self.events;
        let (written, readable) = self.turn();
        let readable: &Vec<E> = readable;
        let run_readers = move |first_job: usize| {
            for _ in (first_job..=readers)
                .step_by(threads)
                .filter(|&job| job > 0)
            {
                read(readable);
            }
        };
        std::thread::scope(|scope| {
            for thread in 1..threads {
                scope.spawn(move || run_readers(thread));
            }
            write_into(written, 0..events);
            run_readers(0);
        });
    }

    /// Every pass cut in `threads` parts, one per thread.
    fn split_parallel(&mut self, readers: usize, threads: usize) {
        let events = self.events;
        let (written, readable) = self.turn();
        written.clear();
        written.resize(events, E::nth(0));
        let part = events.div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for (index, (out, input)) in written
                .chunks_mut(part)
                .zip(readable.chunks(part))
                .enumerate()
            {
                scope.spawn(move || {
                    let start = index * part;
                    for (slot, i) in out.iter_mut().zip(start..) {
                        *slot = E::nth(i);
                    }
                    for _ in 0..readers {
                        read(input);
                    }
                });
            }
        });
    }
}

impl<E: BenchEvent + Sync> Frames<E> {
    /// This frame's events into this frame's buffer, nothing read.
    fn writer_only(&mut self) {
        let events = self.events;
        let (written, _) = self.turn();
        write_into(written, 0..events);
        black_box(written);
    }

    /// `readers` passes over `events` events, taken from the first buffer (one chunk of the
    /// folds' length, so in L1) again and again; returns the passes' checksums.
    fn reads_in_l1(&self, readers: usize, events: usize) -> u64 {
        let chunk = self.buffers[0].as_slice();
        let mut sum = 0u64;
        let mut left = events;
        while left > 0 {
            let part = &chunk[..chunk.len().min(left)];
            for _ in 0..readers {
                sum = sum.wrapping_add(read(part));
            }
            left -= part.len();
        }
        sum
    }

    /// The writer on this thread while the other threads take chunks of last frame's buffer
    /// (the folds' chunk length), each read once per reader; this thread takes chunks too
    /// once it has written.
    fn fused_parallel(&mut self, readers: usize, threads: usize) -> u64 {
        let events = self.events;
        let (written, readable) = self.turn();
        let readable: &[E] = readable;
        let chunk_len = tickbus::fold_chunk_len::<E>();
        let next = AtomicUsize::new(0);
        let checksums = AtomicU64::new(0);
        let take_chunks = || {
            let mut sum = 0u64;
            loop {
                let start = next.fetch_add(chunk_len, Ordering::Relaxed);
                let Some(rest) = readable.get(start..).filter(|rest| !rest.is_empty()) else {
                    break;
                };
                let chunk = &rest[..chunk_len.min(rest.len())];
                for _ in 0..readers {
                    sum = sum.wrapping_add(read(chunk));
                }
            }
            checksums.fetch_add(sum, Ordering::Relaxed);
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(take_chunks);
            }
            write_into(written, 0..events);
            take_chunks();
        });
        checksums.into_inner()
    }
}

fn write_into<E: BenchEvent>(buffer: &mut Vec<E>, events: std::ops::Range<usize>) {
    buffer.clear();
    buffer.extend(events.map(E::nth));
}

/// One reader's pass: the checksum, which the optimiser cannot see through.
pub(super) fn read<E: BenchEvent>(events: &[E]) -> u64 {
    black_box(checksum(black_box(events).iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_floor_writes_the_frame_into_the_buffer_of_the_turn() {
        let shape = Shape {
            events: 1000,
            writers: 1,
            readers: 3,
        };
        let mut frames = Frames::<Payload>::new(shape.events);
        let expected: Vec<u64> = (0..1000).map(|i| Payload::nth(i).fields()).collect();
        let written = |frames: &Frames<Payload>| -> Vec<u64> {
            frames.buffers[frames.current]
                .iter()
                .map(Payload::fields)
                .collect()
        };
        type Way = fn(&mut Frames<Payload>, usize);
        let ways: [(&str, Way); 6] = [
            ("systems, 1 thread", |f, r| f.systems_parallel(r, 1)),
            ("systems, 3 threads", |f, r| f.systems_parallel(r, 3)),
            ("split, 2 threads", |f, r| f.split_parallel(r, 2)),
            ("split, 3 threads", |f, r| f.split_parallel(r, 3)),
            ("fused, 1 thread", |f, r| {
                f.fused_parallel(r, 1);
            }),
            ("fused, 3 threads", |f, r| {
                f.fused_parallel(r, 3);
            }),
        ];
        for (way, run) in ways {
            // Spoil both buffers, so only this way's writes can make them right.
            for buffer in &mut frames.buffers {
                buffer.fill(Payload::nth(7));
            }
            let before = frames.current;
            run(&mut frames, shape.readers);
            assert_ne!(frames.current, before, "{way}: the buffers alternate");
            assert_eq!(written(&frames), expected, "{way}");
        }
        for order in [Order::WriterFirst, Order::ReadersFirst] {
            frames.buffers[frames.current ^ 1].fill(Payload::nth(7));
            frames.two_buffers(shape.readers, order);
            assert_eq!(written(&frames), expected);
        }
        assert_eq!(floors::<Payload>(shape, 2).len(), 10);
        frames.buffers[frames.current ^ 1].fill(Payload::nth(7));
        frames.writer_only();
        assert_eq!(written(&frames), expected, "writer only");
    }

    #[test]
    fn the_fused_floor_reads_every_chunk_of_last_frame_once_per_reader() {
        const EVENTS: usize = 5_000;
        assert!(EVENTS.div_ceil(tickbus::fold_chunk_len::<Payload>()) >= 4);
        let frame = checksum((0..EVENTS).map(Payload::nth).collect::<Vec<_>>().iter());
        for threads in [1, 3] {
            let mut frames = Frames::<Payload>::new(EVENTS);
            // The readable buffer of the first turn was filled by `new`, like every later one.
            let read = frames.fused_parallel(3, threads);
            assert_eq!(read, frame.wrapping_mul(3), "{threads} threads");
        }
    }

    #[test]
    fn every_roofline_ratio_is_measured_the_bound_included() {
        let config = crate::sweep::throughput::tests::small_config(false);
        let point = measure_point(&config, 1_000, 16, || {});
        for spec in ratio_specs() {
            assert!(
                point.ratio(&spec).is_some(),
                "{} is not measured",
                spec.label
            );
        }
        let bound = point.contender(BOUND_PAR).expect("the bound is computed");
        assert_eq!(bound.ns_per_frame.len(), config.sampling.rounds);
    }

    #[test]
    fn the_bound_is_the_writer_or_the_whole_work_shared_by_the_threads_whichever_is_longer() {
        let samples = |name: &str, ns_per_frame: Vec<f64>| Samples {
            name: name.to_owned(),
            frames_per_sample: 3,
            ns_per_frame,
            executor: None,
        };
        let measured = [
            samples(FLOOR_WRITER, vec![4.0, 1.0]),
            samples(FLOOR_READS_L1, vec![2.0, 9.0]),
        ];
        let bound = parallel_bound(&measured, 2).expect("both floors are there");
        assert_eq!(bound.name, BOUND_PAR);
        assert_eq!(bound.frames_per_sample, 0, "marked as computed, not run");
        assert_eq!(bound.ns_per_frame, vec![4.0, 5.0]);
        let one_thread = parallel_bound(&measured, 1).expect("both floors are there");
        assert_eq!(one_thread.ns_per_frame, vec![6.0, 10.0]);
        assert!(parallel_bound(&measured[..1], 2).is_none());
    }

    #[test]
    fn the_reads_in_l1_chunk_is_the_folds_chunk_and_fits_a_32_kib_l1() {
        for events in [1_000_000, 100_000] {
            assert_eq!(
                l1_chunk_events::<Payload>(events),
                tickbus::fold_chunk_len::<Payload>()
            );
            assert!(l1_chunk_events::<Payload64>(events) * size_of::<Payload64>() <= 32 * 1024);
        }
        assert_eq!(l1_chunk_events::<Payload>(10), 10, "a smaller frame whole");
    }

    #[test]
    fn the_reads_in_l1_read_every_event_of_the_frame_once_per_reader() {
        let frames = Frames::<Payload>::new(100);
        let pass = checksum((0..100).map(Payload::nth).collect::<Vec<_>>().iter());
        // 250 events: the 100-event chunk twice and its first 50 events.
        let first_half = checksum((0..50).map(Payload::nth).collect::<Vec<_>>().iter());
        let expected = pass
            .wrapping_mul(2)
            .wrapping_add(first_half)
            .wrapping_mul(3);
        assert_eq!(frames.reads_in_l1(3, 250), expected);
    }
}

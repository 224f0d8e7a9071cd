//! `floor_write_fold_par`: the readers fold each chunk of this frame's events while the
//! writer is still writing the next ones, on threads that live as long as the floor.
//!
//! This is the data flow of folding events at write time, a design the engine does not
//! have: the writer fills chunks of the folds' length one after the other and hands each to
//! the other threads as soon as it is written, so the readers take it from the caches
//! (mostly L2/L3, not measured) instead of reading last frame's buffer from memory; once it
//! has written the frame, the writer's thread folds the chunks that are left too. (The
//! engine's promise that events are readable the tick after they were written would still
//! hold: only the partial results would wait for the next tick.) Each frame's chunks are
//! kept until the frame after next, the two sets alternating, as the queue keeps a frame's
//! events for the next tick.
//!
//! The workers sleep on a channel between frames, so they cost nothing while other
//! contenders run; waking them is part of the frame, as it is for the engine.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
};

use crossbeam_channel::Sender;

use crate::events::BenchEvent;

/// The chunks of the two alternating frames and what the threads of one frame share.
struct Shared<E> {
    /// `sets[frame % 2][chunk]`: one chunk of the folds' length each.
    sets: [Vec<Mutex<Vec<E>>>; 2],
    /// The set written this frame.
    set: AtomicUsize,
    /// The index of this frame's first event: each frame writes new events, so a chunk left
    /// from an earlier frame never passes for this frame's.
    first_event: AtomicUsize,
    /// Chunks of this frame written so far (the writer publishes them in order).
    written: AtomicUsize,
    /// The next chunk to fold.
    next: AtomicUsize,
    /// Sum of every reader's checksum of every chunk folded this frame.
    sum: AtomicU64,
    /// Workers that finished this frame (also by a panic).
    finished: AtomicUsize,
    /// Set if the writer unwound: the chunks it did not write will never come.
    abandoned: AtomicBool,
    readers: usize,
    events: usize,
    chunk_len: usize,
}

impl<E: BenchEvent> Shared<E> {
    fn chunks(&self) -> usize {
        self.events.div_ceil(self.chunk_len)
    }

    fn lock(chunk: &Mutex<Vec<E>>) -> std::sync::MutexGuard<'_, Vec<E>> {
        chunk.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer: every chunk of the frame, in order, each published once written.
    fn write_frame(&self) {
        let abandon_if_unwinding = AbandonOnUnwind(&self.abandoned);
        let set = &self.sets[self.set.load(Ordering::Relaxed)];
        let first_event = self.first_event.load(Ordering::Relaxed);
        for (index, chunk) in set.iter().enumerate() {
            let start = index * self.chunk_len;
            let end = (start + self.chunk_len).min(self.events);
            let mut chunk = Self::lock(chunk);
            chunk.clear();
            chunk.extend((first_event + start..first_event + end).map(E::nth));
            drop(chunk);
            self.written.store(index + 1, Ordering::Release);
        }
        std::mem::forget(abandon_if_unwinding);
    }

    /// Takes chunks until none is left, each folded by every reader once it is written.
    fn fold_chunks(&self) {
        let set = &self.sets[self.set.load(Ordering::Acquire)];
        let mut sum = 0u64;
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = set.get(index) else {
                break;
            };
            let mut spins = 0u32;
            while self.written.load(Ordering::Acquire) <= index {
                if self.abandoned.load(Ordering::Relaxed) {
                    return;
                }
                back_off(&mut spins);
            }
            let chunk = Self::lock(chunk);
            for _ in 0..self.readers {
                sum = sum.wrapping_add(super::roofline::read(&chunk));
            }
        }
        self.sum.fetch_add(sum, Ordering::Relaxed);
    }
}

/// Spins a while, then lets other threads run: a waiting thread must not keep the core the
/// thread it waits for needs (more threads than cores, a busy host).
fn back_off(spins: &mut u32) {
    *spins += 1;
    if *spins < 1_000 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Marks the frame abandoned if dropped while the writer unwinds (forgotten otherwise), so
/// the workers stop waiting for chunks that will not come.
struct AbandonOnUnwind<'a>(&'a AtomicBool);

impl Drop for AbandonOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Counts a worker's frame as finished when dropped, also when the worker unwinds, so the
/// writer's thread never waits for it forever.
struct CountFinished<'a>(&'a AtomicUsize);

impl Drop for CountFinished<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// The floor's state: the chunks and the workers, which end when it is dropped.
pub(crate) struct PipelinedFrames<E: BenchEvent + Send + 'static> {
    shared: Arc<Shared<E>>,
    /// One start channel per worker, so every worker takes part in every frame.
    starts: Vec<Sender<()>>,
    workers: Vec<JoinHandle<()>>,
    frames: usize,
}

impl<E: BenchEvent + Send + 'static> PipelinedFrames<E> {
    /// Frames of `events` events read by `readers` readers, on `threads` threads (this one
    /// and `threads - 1` workers).
    pub(crate) fn new(events: usize, readers: usize, threads: usize) -> Self {
        let chunk_len = tickbus::fold_chunk_len::<E>();
        let set = || {
            (0..events.div_ceil(chunk_len))
                .map(|_| Mutex::new(Vec::with_capacity(chunk_len)))
                .collect()
        };
        let shared = Arc::new(Shared {
            sets: [set(), set()],
            set: AtomicUsize::new(0),
            first_event: AtomicUsize::new(0),
            written: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            sum: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
            readers,
            events,
            chunk_len,
        });
        let (starts, workers) = (1..threads.max(1))
            .map(|_| {
                let (start, started) = crossbeam_channel::unbounded::<()>();
                let shared = Arc::clone(&shared);
                let worker = std::thread::spawn(move || {
                    for () in started {
                        let _count = CountFinished(&shared.finished);
                        shared.fold_chunks();
                    }
                });
                (start, worker)
            })
            .unzip();
        Self {
            shared,
            starts,
            workers,
            frames: 0,
        }
    }

    /// One frame: write it chunk by chunk while the workers fold the written chunks, fold
    /// what is left, wait for the workers; returns the readers' checksums of the frame.
    pub(crate) fn frame(&mut self) -> u64 {
        let shared = &*self.shared;
        shared.set.store(self.frames % 2, Ordering::Relaxed);
        shared
            .first_event
            .store(self.frames.wrapping_mul(shared.events), Ordering::Relaxed);
        shared.written.store(0, Ordering::Relaxed);
        shared.next.store(0, Ordering::Relaxed);
        shared.sum.store(0, Ordering::Relaxed);
        shared.finished.store(0, Ordering::Relaxed);
        shared.abandoned.store(false, Ordering::Relaxed);
        for start in &self.starts {
            // A worker holds its receiver until its sender is dropped.
            let _ = start.send(());
        }
        shared.write_frame();
        shared.fold_chunks();
        let mut spins = 0u32;
        while shared.finished.load(Ordering::Acquire) < self.workers.len() {
            back_off(&mut spins);
        }
        self.frames += 1;
        debug_assert_eq!(shared.written.load(Ordering::Relaxed), shared.chunks());
        shared.sum.load(Ordering::Relaxed)
    }
}

impl<E: BenchEvent + Send + 'static> Drop for PipelinedFrames<E> {
    fn drop(&mut self) {
        // Closing the channels ends the workers' loops; a frame the writer abandoned by a
        // panic ends for them as soon as they see it.
        self.starts.clear();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{panic::AssertUnwindSafe, time::Duration};

    use bevy_ecs::message::Message;

    use super::*;
    use crate::events::{Payload, checksum};

    /// An event whose writer panics at the 3,000th event of a frame.
    #[derive(Message, Clone, Copy)]
    struct Explosive(u64);

    impl BenchEvent for Explosive {
        fn nth(i: usize) -> Self {
            assert_ne!(i, 3_000, "the writer fails part-way");
            Explosive(i as u64)
        }

        fn fields(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn a_writer_that_panics_part_way_leaves_no_worker_waiting() {
        let (done, finished) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let mut floor = PipelinedFrames::<Explosive>::new(5_000, 2, 3);
            let frame = std::panic::catch_unwind(AssertUnwindSafe(|| floor.frame()));
            // Dropping the floor joins its workers: it returns only if they stopped waiting.
            drop(floor);
            let _ = done.send(frame.is_err());
        });
        let panicked = finished
            .recv_timeout(Duration::from_secs(30))
            .expect("the workers stop waiting for chunks the writer never wrote");
        assert!(panicked, "the writer's panic reaches the caller");
    }

    #[test]
    fn every_chunk_of_every_frame_is_written_and_folded_once_per_reader() {
        const EVENTS: usize = 5_000;
        const READERS: usize = 3;
        assert!(EVENTS.div_ceil(tickbus::fold_chunk_len::<Payload>()) >= 4);
        let frame_events = |frame: usize| (frame * EVENTS..(frame + 1) * EVENTS).map(Payload::nth);
        for threads in [1, 2, 3] {
            let mut floor = PipelinedFrames::<Payload>::new(EVENTS, READERS, threads);
            // Many frames, each of new events: a chunk folded before it was written shows.
            for frame in 0..50 {
                let expected = checksum(frame_events(frame).collect::<Vec<_>>().iter());
                assert_eq!(
                    floor.frame(),
                    expected.wrapping_mul(READERS as u64),
                    "{threads} threads, frame {frame}"
                );
            }
            let written: Vec<u64> = floor.shared.sets[1]
                .iter()
                .flat_map(|chunk| Shared::lock(chunk).clone())
                .map(|event| event.fields())
                .collect();
            let expected: Vec<u64> = frame_events(49).map(|event| event.fields()).collect();
            assert_eq!(written, expected, "{threads} threads: the last frame's set");
        }
    }
}

//! `floor_write_fold_par`: the readers fold each chunk of this frame's events while the
//! writer is still writing the next ones, on threads that live as long as the floor.
//!
//! This is the data flow of folding events at write time, a design the engine does not
//! have: the writer fills chunks of the folds' length one after the other and hands each to
//! the other threads as soon as it is written, so the readers find it in cache instead of
//! reading last frame's buffer from memory; once it has written the frame, the writer's
//! thread folds the chunks that are left too. (The engine's promise that events are readable
//! the tick after they were written would still hold: only the partial results would wait
//! for the next tick.) Each frame's chunks are kept until the frame after next, the two sets
//! alternating, as the queue keeps a frame's events for the next tick.
//!
//! The workers sleep on a channel between frames, so they cost nothing while other
//! contenders run; waking them is part of the frame, as it is for the engine.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
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
    /// Workers that finished this frame.
    finished: AtomicUsize,
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
            while self.written.load(Ordering::Acquire) <= index {
                std::hint::spin_loop();
            }
            let chunk = Self::lock(chunk);
            for _ in 0..self.readers {
                sum = sum.wrapping_add(super::roofline::read(&chunk));
            }
        }
        self.sum.fetch_add(sum, Ordering::Relaxed);
    }
}

/// The floor's state: the chunks and the workers, which end when it is dropped.
pub(crate) struct PipelinedFrames<E: BenchEvent + Send + 'static> {
    shared: Arc<Shared<E>>,
    start: Option<Sender<()>>,
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
            readers,
            events,
            chunk_len,
        });
        let (start, started) = crossbeam_channel::unbounded::<()>();
        let workers = (1..threads.max(1))
            .map(|_| {
                let shared = Arc::clone(&shared);
                let started = started.clone();
                std::thread::spawn(move || {
                    for () in started {
                        shared.fold_chunks();
                        shared.finished.fetch_add(1, Ordering::Release);
                    }
                })
            })
            .collect();
        Self {
            shared,
            start: Some(start),
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
        if let Some(start) = &self.start {
            for _ in &self.workers {
                // The workers hold the receiver until this sender is dropped.
                let _ = start.send(());
            }
        }
        shared.write_frame();
        shared.fold_chunks();
        while shared.finished.load(Ordering::Acquire) < self.workers.len() {
            std::hint::spin_loop();
        }
        self.frames += 1;
        debug_assert_eq!(shared.written.load(Ordering::Relaxed), shared.chunks());
        shared.sum.load(Ordering::Relaxed)
    }
}

impl<E: BenchEvent + Send + 'static> Drop for PipelinedFrames<E> {
    fn drop(&mut self) {
        // Closing the channel ends the workers' loops.
        self.start = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Payload, checksum};

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

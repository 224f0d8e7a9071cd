//! Folding events at write time (see [`fold`](super::fold#folding-at-write-time)): how a
//! writer system sends a large batch of an event type that has folds.
//!
//! The writer appends the batch chunk by chunk (the folds' chunks) and publishes each chunk
//! as soon as it is full. The engine's workers, asked to help, take the published chunks in
//! order and fold them from the caches the writer just filled. When they fall more than
//! [`HELPER_LAG`] chunks behind (or none could be asked), the writer folds its newest chunk
//! itself, while it is still in its L1 cache; once the batch is written it folds every chunk
//! nobody took. A chunk is folded once, by whoever takes its flag first; its partial results wait in
//! the writer's slots until the buffer is merged (the writer's `apply`).

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bevy_ecs::{change_detection::DetectChangesMut, world::World};

use super::{
    append::{self, AppendEnd, ReadEnd},
    buffer::MergeId,
    fold::{EarlyFold, EventFolds, WRITE_FOLD_MIN_BYTES, fold_chunk_len},
};
use crate::{
    ComputePool, Event,
    schedule::{
        node::drop_panic,
        workers::{Help, Ticket, WorkerPool},
    },
};

/// Chunks the helpers may fall behind the writer before it folds its newest chunk itself.
/// Measured with a variant of `tickbus-bench --roofline`'s `floor_write_fold_par` (1M 16-byte
/// events, four folds, one run): 8 was faster than 1, 2, 4, 16 and 32.
const HELPER_LAG: usize = 8;

/// How long a helper waits for the writer's next chunk before it leaves (a writer that
/// produces its events slowly must not hold the other threads).
const HELPER_PATIENCE: Duration = Duration::from_micros(20);

/// A writer system's part in folding its event type at write time.
pub(crate) struct WriterFolds<T: Event> {
    /// One per fold of `T`, in the order of [`EventFolds`], each with the partials of the
    /// chunks folded so far.
    folds: Vec<Box<dyn EarlyFold<T>>>,
    /// Per chunk of the buffer: taken by a thread to fold it, during the current batch.
    taken: Vec<AtomicBool>,
    /// Chunks `0..folded` of the buffer are folded.
    folded: usize,
    /// Whether the writer's last merged buffer was the start of the pending events. Only
    /// such a buffer's partials are kept, so a writer that merges after another one does
    /// not fold at write time (its work would be dropped).
    merged_first: bool,
    pool: Option<Arc<WorkerPool>>,
}

impl<T: Event> std::fmt::Debug for WriterFolds<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterFolds")
            .field("folds", &self.folds.len())
            .field("folded", &self.folded)
            .field("merged_first", &self.merged_first)
            .finish_non_exhaustive()
    }
}

impl<T: Event> WriterFolds<T> {
    /// The write-time folds of `T` in `world` (none if `T` has no folds) and the engine's
    /// workers, if any.
    pub(crate) fn new(world: &World) -> Self {
        let folds = world
            .get_resource::<EventFolds<T>>()
            .map(EventFolds::write_time_folds)
            .unwrap_or_default();
        let pool = world
            .get_resource::<ComputePool>()
            .and_then(|pool| pool.workers().cloned());
        Self {
            folds,
            taken: Vec::new(),
            folded: 0,
            merged_first: true,
            pool,
        }
    }

    /// Whether a batch of at least `events` events is folded as it is written.
    pub(crate) fn wants(&self, events: usize) -> bool {
        !self.folds.is_empty()
            && self.merged_first
            && events.saturating_mul(size_of::<T>()) >= WRITE_FOLD_MIN_BYTES
    }

    /// Appends `events` to `buffer`, folding every full chunk of the buffer that is not
    /// folded yet. Events beyond the buffer's capacity after reserving the size hint's lower
    /// bound are appended without folding.
    pub(crate) fn send_batch(&mut self, buffer: &mut Vec<T>, events: impl Iterator<Item = T>) {
        let chunk_len = fold_chunk_len::<T>();
        buffer.reserve(events.size_hint().0);
        let first = self.folded.min(buffer.len() / chunk_len);
        let chunks = buffer.capacity() / chunk_len;
        self.prepare(first, chunks);
        let mut published = AtomicUsize::new(0);
        let (written, overflow) = {
            let (mut writer, reader) = append::split(buffer, &mut published);
            let task = ChunkFolds {
                reader,
                folds: &self.folds,
                taken: &self.taken[..chunks],
                claimed: AtomicUsize::new(first),
                writing: AtomicBool::new(true),
            };
            let drive = |ticket: Ticket| {
                // Without a posting (no workers, or the pool's board is full) no helper comes:
                // the writer folds every chunk as soon as it is written.
                let lag = if ticket == Ticket::UNPOSTED {
                    0
                } else {
                    HELPER_LAG
                };
                task.write_and_fold(&mut writer, events, first, lag)
            };
            let overflow = match &self.pool {
                Some(pool) => pool.with_helpers(&task, pool.workers(), drive),
                None => drive(Ticket::UNPOSTED),
            };
            (writer.len(), overflow)
        };
        self.folded = written / chunk_len;
        if let (Some(event), events) = overflow {
            buffer.push(event);
            buffer.extend(events);
        }
    }

    /// Slots for chunks `0..chunks`, and their flags cleared from `first` on.
    fn prepare(&mut self, first: usize, chunks: usize) {
        for fold in &mut self.folds {
            fold.prepare(first, chunks);
        }
        if self.taken.len() < chunks {
            self.taken.resize_with(chunks, AtomicBool::default);
        }
        for taken in self.taken.iter_mut().take(chunks).skip(first) {
            *taken.get_mut() = false;
        }
    }

    /// After the writer's buffer was merged: hands its partials to the folds if the merge
    /// made it the start of the pending events (`merge`), then starts over with the next
    /// buffer. `readable` is the merge that made the readable events.
    pub(crate) fn merged(
        &mut self,
        world: &mut World,
        merge: Option<MergeId>,
        readable: Option<MergeId>,
    ) {
        let folded = std::mem::take(&mut self.folded);
        self.merged_first = merge.is_some();
        if let Some(merge) = merge
            && folded > 0
            && let Some(mut folds) = world.get_resource_mut::<EventFolds<T>>()
        {
            folds
                .bypass_change_detection()
                .keep_early(&mut self.folds, merge, folded, readable);
        }
        for fold in &mut self.folds {
            fold.clear();
        }
    }
}

/// One batch being folded as it is written: what the writer and its helpers share.
struct ChunkFolds<'a, T> {
    reader: ReadEnd<'a, T>,
    folds: &'a [Box<dyn EarlyFold<T>>],
    taken: &'a [AtomicBool],
    /// The next chunk a helper takes (helpers go in order; the writer takes its newest).
    claimed: AtomicUsize,
    /// False once the writer has written the batch (or unwound): chunks not published by
    /// then never will be.
    writing: AtomicBool,
}

impl<T: Event> ChunkFolds<'_, T> {
    /// The writer's part: writes the batch, folding its newest chunk whenever the helpers
    /// lag by more than `lag` chunks, then folds every chunk from `first` on that nobody
    /// took. Returns the first event that did not fit, if any, and the rest of the iterator.
    fn write_and_fold<I: Iterator<Item = T>>(
        &self,
        writer: &mut AppendEnd<'_, T>,
        events: I,
        first: usize,
        lag: usize,
    ) -> (Option<T>, I) {
        let overflow = {
            let _written = StopOnDrop(&self.writing);
            self.write(writer, events, lag)
        };
        let chunks = writer.len() / fold_chunk_len::<T>();
        for index in first..chunks {
            self.fold_once(index);
        }
        overflow
    }

    /// Writes the batch (see [`write_and_fold`](Self::write_and_fold)) and gives the
    /// iterator back with the first event that did not fit. It owns the iterator while it
    /// writes: through a `&mut`, the iterator's position would be stored to memory after
    /// every event.
    fn write<I: Iterator<Item = T>>(
        &self,
        writer: &mut AppendEnd<'_, T>,
        mut events: I,
        lag: usize,
    ) -> (Option<T>, I) {
        let chunk_len = fold_chunk_len::<T>();
        loop {
            let room = chunk_len - writer.len() % chunk_len;
            let appended = writer.extend_up_to(&mut events, room);
            writer.publish();
            if appended == room {
                let chunk = writer.len() / chunk_len - 1;
                if chunk + 1 > self.claimed.load(Ordering::Relaxed) + lag {
                    self.fold_once(chunk);
                }
            } else {
                // The events ended, or the capacity did: then the next one does not fit.
                let overflow = if writer.is_full() {
                    events.next()
                } else {
                    None
                };
                return (overflow, events);
            }
        }
    }

    /// Folds chunk `index` with every fold, unless another thread took it. A fold's panic
    /// only leaves its slot empty (the read path folds the chunk again and reports it).
    fn fold_once(&self, index: usize) {
        let Some(taken) = self.taken.get(index) else {
            return;
        };
        if taken.swap(true, Ordering::Relaxed) {
            return;
        }
        let Some(events) = self.chunk(index) else {
            return;
        };
        for fold in self.folds {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| fold.fold_chunk(index, events)))
            {
                drop_panic(payload);
            }
        }
    }

    /// The events of chunk `index`, once the writer has published all of them.
    fn chunk(&self, index: usize) -> Option<&[T]> {
        let chunk_len = fold_chunk_len::<T>();
        self.reader.get(index * chunk_len, (index + 1) * chunk_len)
    }

    /// Waits (a little) until chunk `index` is published; false if it will not be soon.
    fn wait_for(&self, index: usize) -> bool {
        let published = || self.chunk(index).is_some();
        let mut deadline = None;
        let mut spins = 0u32;
        loop {
            if published() {
                return true;
            }
            if !self.writing.load(Ordering::Acquire) {
                // Written in full: one last look, since the chunk may have come just before.
                return published();
            }
            spins = spins.wrapping_add(1);
            std::hint::spin_loop();
            if spins.is_multiple_of(64) {
                let now = Instant::now();
                if now >= *deadline.get_or_insert(now + HELPER_PATIENCE) {
                    return false;
                }
            }
        }
    }
}

impl<T: Event> Help for ChunkFolds<'_, T> {
    /// A helper takes chunks in order until the batch is folded or the writer is too slow.
    /// A chunk it gave up waiting for is folded by the writer at the end.
    fn help(&self, _ticket: Ticket) {
        loop {
            let index = self.claimed.fetch_add(1, Ordering::Relaxed);
            if index >= self.taken.len() || !self.wait_for(index) {
                return;
            }
            self.fold_once(index);
        }
    }
}

/// Sets the flag to false when dropped: the helpers stop waiting once the writer is done,
/// also when it unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

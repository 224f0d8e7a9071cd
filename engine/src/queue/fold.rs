//! Event folds: readers of one event type that the engine runs together, chunk by chunk.
//!
//! Every [`EventReader`] system makes its own pass over the tick's events. At a million
//! events a tick, each pass streams the whole buffer from memory, so four readers read it four
//! times. The folds of one event type run instead in one system that walks the events in
//! chunks of [`FOLD_CHUNK_BYTES`] and hands each chunk to every fold while it is in the
//! L1 cache: the readers stream the buffer from memory once. The chunks are spread over the
//! engine's threads ([`ComputePool`]) when the loop is long enough to pay for it, so even one
//! fold can use every core.
//!
//! A fold is two functions: `fold` turns one chunk into a partial result, on any thread;
//! `merge` adds the partial results to a resource, on one thread, in chunk order. Chunk
//! boundaries depend only on the event size, never on the thread count, so a fold that
//! depends on its chunk only still gives the same result on any number of threads when its
//! partials do not commute (a float sum, a list of events that passed a filter).
//!
//! # Folding at write time
//!
//! A writer that sends a large batch ([`WRITE_FOLD_MIN_BYTES`] or more, as its size hint
//! says) folds the chunks as it writes them, while they are still in a cache, instead of
//! leaving them to be read back from memory in the next tick ([`early`](super::early)): the
//! engine's other threads fold each chunk as soon as it is written, and the writer folds its
//! newest chunk itself when they fall behind. The partial results wait for the next tick, where
//! the fold system takes them instead of folding those chunks again and merges them as usual.
//!
//! They are kept only when they are exactly what the next tick would compute: same chunk grid
//! (the writer's events are the first of the pending ones, full chunks only), and the
//! readable events are the ones that merge made (each such merge has an id unique in the
//! process, which the queue forgets when its events are replaced, as by a restored snapshot;
//! partials merged earlier in the same tick wait for the next one). Anything else is folded
//! at read time, so the results never depend on which path folded a chunk, as long as a fold
//! depends only on its chunk's values and those do not change after they were sent (an event
//! holding a shared cell that a system changes before the folds run could be folded with
//! either value). When the partials cannot be used, the write-time work is wasted: the chunks
//! are folded again when read, or not at all if the fold set skips that tick. A fold that
//! panics at write time leaves its chunk to the read path, which panics again there and
//! reports it.

use std::{
    any::Any,
    marker::PhantomData,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::{Arc, OnceLock},
};

use bevy_ecs::{
    component::Mutable,
    resource::Resource,
    schedule::SystemSet,
    system::{Res, ResMut},
};

use super::buffer::MergeId;
use crate::{ComputePool, Event, EventReader, schedule::node::drop_panic};

/// Bytes of events in one chunk of an event fold (the last chunk of a tick may be shorter).
///
/// Small enough that a chunk stays in a core's L1 data cache (32 KiB or more on current
/// desktop and server cores) while every fold of the type reads it; large enough that handing
/// out a chunk costs little against reading it. Chunk boundaries follow from the event's
/// size: changing an event type's size moves them, and with them the rounding of a fold
/// whose partials do not commute (a float sum), hence the state hashes of recorded scenarios.
pub const FOLD_CHUNK_BYTES: usize = 16 * 1024;

/// The set of every event fold's systems (the folds of each event type and their merges):
/// order other systems against it (`.after(EventFoldSystems)`) or give it run conditions
/// (`configure_sets(EventFoldSystems.run_if(..))`, evaluated once per tick for all of them).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventFoldSystems;

/// Events of type `E` in one fold chunk: [`FOLD_CHUNK_BYTES`] worth, at least one.
pub fn fold_chunk_len<E>() -> usize {
    (FOLD_CHUNK_BYTES / size_of::<E>().max(1)).max(1)
}

/// Batches of at least this many bytes of events (by their size hint) are folded as they are
/// written; smaller ones, whose events are still in a cache in the next tick, when read.
pub const WRITE_FOLD_MIN_BYTES: usize = 4 << 20;

/// The folds of event type `E`, in the order they were added.
#[derive(Resource)]
pub(crate) struct EventFolds<E: Event> {
    folds: Vec<Box<dyn ErasedFold<E>>>,
    /// The partial results writers folded at write time, waiting in each fold's `early`
    /// slots (same index) for the tick that reads those events. Two: a writer that merges at
    /// a sync point before the folds run adds the partials for the next tick while those for
    /// this tick still wait.
    early: [Option<EarlyChunks>; 2],
}

/// Which chunks of which events the waiting write-time partials are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EarlyChunks {
    /// The merge that made the folded buffer the start of the pending events.
    merge: MergeId,
    /// Chunks `0..chunks` of the buffer were folded (a fold that panicked left its slot
    /// empty).
    chunks: usize,
}

/// What the fold system does with one slot of waiting write-time partials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Early {
    /// They are for the first `n` chunks of the readable events.
    Use(usize),
    /// They are for the pending events (merged earlier in this tick): keep them waiting.
    Wait,
    /// None, or for events that are gone.
    Drop,
}

/// What the fold system does with each slot of waiting write-time partials.
type EarlyPlan = [Early; 2];

impl<E: Event> Default for EventFolds<E> {
    fn default() -> Self {
        Self {
            folds: Vec::new(),
            early: [None; 2],
        }
    }
}

impl<E: Event> EventFolds<E> {
    /// Adds a fold; returns its index, which its merge system uses.
    pub(crate) fn push<P, F>(&mut self, fold: F) -> usize
    where
        P: Send + Sync + 'static,
        F: Fn(&[E]) -> P + Send + Sync + 'static,
    {
        self.folds.push(Box::new(Fold {
            fold: Arc::new(fold),
            partials: Vec::new(),
            early: [Vec::new(), Vec::new()],
            event: PhantomData,
        }));
        self.folds.len() - 1
    }

    /// One write-time fold per fold of `E`, in order, for a writer system.
    pub(crate) fn write_time_folds(&self) -> Vec<Box<dyn EarlyFold<E>>> {
        self.folds
            .iter()
            .map(|fold| fold.write_time_fold())
            .collect()
    }

    /// Takes the partials a writer folded at write time for chunks `0..chunks` of the buffer
    /// that `merge` made the start of the pending events, into the slot that does not hold
    /// partials for the `readable` events (which this tick's folds may not have used yet);
    /// gives the writer back empty slots. Keeps nothing if the writer's folds are not these
    /// (they always are: one write-time fold per fold, made by
    /// [`write_time_folds`](Self::write_time_folds)).
    pub(crate) fn keep_early(
        &mut self,
        folded: &mut [Box<dyn EarlyFold<E>>],
        merge: MergeId,
        chunks: usize,
        readable: Option<MergeId>,
    ) {
        let for_readable =
            |early: &Option<EarlyChunks>| early.is_some_and(|early| Some(early.merge) == readable);
        let slot = usize::from(for_readable(&self.early[0]));
        self.early[slot] = None;
        if folded.len() != self.folds.len() {
            return;
        }
        let kept = self
            .folds
            .iter_mut()
            .zip(folded)
            .all(|(fold, early)| fold.keep_early(slot, early.as_any_mut()));
        if kept {
            self.early[slot] = Some(EarlyChunks { merge, chunks });
        }
    }

    /// What to do with each slot of waiting write-time partials, given the merges that made
    /// the readable and the pending events and how many readable events there are.
    fn early_plan(
        &mut self,
        readable: Option<MergeId>,
        pending: Option<MergeId>,
        events: usize,
    ) -> EarlyPlan {
        self.early.each_mut().map(|slot| match *slot {
            Some(early) if Some(early.merge) == readable => {
                *slot = None;
                Early::Use(early.chunks.min(events / fold_chunk_len::<E>()))
            }
            Some(early) if Some(early.merge) == pending => Early::Wait,
            _ => {
                *slot = None;
                Early::Drop
            }
        })
    }
}

/// One fold with its partial results of the tick, one slot per chunk.
struct Fold<E, P, F> {
    fold: Arc<F>,
    /// Set by whichever thread folds the chunk; taken, in order, by the merge system.
    partials: Vec<OnceLock<P>>,
    /// Partials folded at write time, for a later tick's first chunks (the slots of
    /// [`EventFolds::early`]).
    early: [Vec<OnceLock<P>>; 2],
    event: PhantomData<fn(&E)>,
}

/// A fold without its partial result type, as the fold system sees it.
trait ErasedFold<E>: Send + Sync {
    /// Drops any partials left over and makes one slot per chunk of this tick, the first
    /// ones filled from the write-time partials `plan` says to use; drops the others unless
    /// they wait for the next tick.
    fn start(&mut self, chunks: usize, plan: EarlyPlan);

    /// The first chunk whose slot is empty (`chunks` if none is).
    fn first_unfolded(&self) -> usize;

    /// Folds chunk `index` into its slot, unless it is folded already.
    fn fold_chunk(&self, index: usize, events: &[E]);

    /// The same fold, for a writer system to fold at write time.
    fn write_time_fold(&self) -> Box<dyn EarlyFold<E>>;

    /// Takes the partials of `early` (a [`WriteTimeFold`] of this fold) into waiting slot
    /// `slot` and gives it that slot's emptied vector; false if `early` is not a write-time
    /// form of this fold.
    fn keep_early(&mut self, slot: usize, early: &mut dyn Any) -> bool;

    /// The fold, for its merge system to recover its type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<E, P, F> ErasedFold<E> for Fold<E, P, F>
where
    E: Event,
    P: Send + Sync + 'static,
    F: Fn(&[E]) -> P + Send + Sync + 'static,
{
    fn start(&mut self, chunks: usize, plan: EarlyPlan) {
        self.partials.clear();
        for (slot, early) in self.early.iter_mut().zip(plan) {
            match early {
                Early::Use(early) => {
                    std::mem::swap(&mut self.partials, slot);
                    self.partials.truncate(early);
                    slot.clear();
                }
                Early::Wait => {}
                Early::Drop => slot.clear(),
            }
        }
        self.partials.resize_with(chunks, OnceLock::new);
    }

    fn first_unfolded(&self) -> usize {
        self.partials
            .iter()
            .position(|slot| slot.get().is_none())
            .unwrap_or(self.partials.len())
    }

    fn fold_chunk(&self, index: usize, events: &[E]) {
        if let Some(slot) = self.partials.get(index) {
            // A chunk folded at write time is not folded again.
            if slot.get().is_none() {
                let _ = slot.set((self.fold)(events));
            }
        }
    }

    fn write_time_fold(&self) -> Box<dyn EarlyFold<E>> {
        Box::new(WriteTimeFold {
            fold: Arc::clone(&self.fold),
            slots: Vec::new(),
            event: PhantomData,
        })
    }

    fn keep_early(&mut self, slot: usize, early: &mut dyn Any) -> bool {
        let Some(slot) = self.early.get_mut(slot) else {
            return false;
        };
        slot.clear();
        let Some(early) = early.downcast_mut::<WriteTimeFold<E, P, F>>() else {
            return false;
        };
        std::mem::swap(slot, &mut early.slots);
        true
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A fold as a writer system runs it at write time: the fold's function and the partial
/// results of the chunks folded so far, one slot per chunk of the writer's buffer.
struct WriteTimeFold<E, P, F> {
    fold: Arc<F>,
    slots: Vec<OnceLock<P>>,
    event: PhantomData<fn(&E)>,
}

/// A write-time fold without its partial result type, as a writer system sees it.
pub(crate) trait EarlyFold<E>: Send + Sync {
    /// Empty slots for chunks `first..chunks`; the slots of chunks `0..first` stay as they
    /// are.
    fn prepare(&mut self, first: usize, chunks: usize);

    /// Folds chunk `index` into its slot (any thread; each chunk once).
    fn fold_chunk(&self, index: usize, events: &[E]);

    /// Drops every partial result.
    fn clear(&mut self);

    /// The fold, for [`EventFolds::keep_early`] to recover its type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<E, P, F> EarlyFold<E> for WriteTimeFold<E, P, F>
where
    E: Event,
    P: Send + Sync + 'static,
    F: Fn(&[E]) -> P + Send + Sync + 'static,
{
    fn prepare(&mut self, first: usize, chunks: usize) {
        self.slots.truncate(first);
        self.slots.resize_with(chunks.max(first), OnceLock::new);
    }

    fn fold_chunk(&self, index: usize, events: &[E]) {
        if let Some(slot) = self.slots.get(index) {
            let _ = slot.set((self.fold)(events));
        }
    }

    fn clear(&mut self) {
        self.slots.clear();
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The system that runs every fold of `E` over this tick's events, chunk by chunk.
pub(crate) fn run_event_folds<E: Event>(
    reader: EventReader<E>,
    mut folds: ResMut<EventFolds<E>>,
    pool: Res<ComputePool>,
) {
    let events = reader.as_slice();
    let chunk_len = fold_chunk_len::<E>();
    let chunks = events.len().div_ceil(chunk_len);
    let queue = reader.queue;
    let plan = folds.early_plan(queue.readable_merge(), queue.pending_merge(), events.len());
    folds
        .folds
        .iter_mut()
        .for_each(|fold| fold.start(chunks, plan));
    let folds = &folds.folds;
    // Chunks folded at write time are skipped; any before `from` is folded by every fold.
    let from = folds
        .iter()
        .map(|fold| fold.first_unfolded())
        .min()
        .unwrap_or(chunks);
    let rest = events.get(from * chunk_len..).unwrap_or_default();
    pool.for_each_chunk(rest, chunk_len, |index, chunk| {
        fold_every_one(folds, from + index, chunk);
    });
}

/// Folds one chunk with every fold, also those after one that panicked: a fold's panic must
/// not cost the others their result. The first panic goes on to the pool, which reports the
/// lowest chunk's.
fn fold_every_one<E>(folds: &[Box<dyn ErasedFold<E>>], index: usize, chunk: &[E]) {
    let mut first_panic = None;
    for fold in folds {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| fold.fold_chunk(index, chunk))) {
            match first_panic {
                None => first_panic = Some(payload),
                Some(_) => drop_panic(payload),
            }
        }
    }
    if let Some(payload) = first_panic {
        resume_unwind(payload);
    }
}

/// The system that merges the partials of fold `index` of `E` into `R`, in chunk order.
pub(crate) fn merge_system<E, R, P, F>(
    index: usize,
    mut merge: impl FnMut(&mut R, P) + Send + Sync + 'static,
) -> impl FnMut(ResMut<EventFolds<E>>, ResMut<R>) + Send + Sync + 'static
where
    E: Event,
    R: Resource<Mutability = Mutable>,
    P: Send + Sync + 'static,
    F: Fn(&[E]) -> P + Send + Sync + 'static,
{
    move |mut folds: ResMut<EventFolds<E>>, mut out: ResMut<R>| {
        let fold = folds
            .folds
            .get_mut(index)
            .and_then(|fold| fold.as_any_mut().downcast_mut::<Fold<E, P, F>>());
        // Only `App::add_event_fold` pushes folds and makes merge systems, with matching
        // indices and types, so a fold is always found.
        let Some(fold) = fold else {
            return;
        };
        // Only a tick with events touches `R`, so change detection sees real changes only.
        for partial in fold.partials.iter_mut().filter_map(OnceLock::take) {
            merge(&mut *out, partial);
        }
    }
}

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

use std::{
    any::Any,
    marker::PhantomData,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::OnceLock,
};

use bevy_ecs::{
    component::Mutable,
    resource::Resource,
    schedule::SystemSet,
    system::{Res, ResMut},
};

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

/// The folds of event type `E`, in the order they were added.
#[derive(Resource)]
pub(crate) struct EventFolds<E: Event> {
    folds: Vec<Box<dyn ErasedFold<E>>>,
}

impl<E: Event> Default for EventFolds<E> {
    fn default() -> Self {
        Self { folds: Vec::new() }
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
            fold,
            partials: Vec::new(),
            event: PhantomData,
        }));
        self.folds.len() - 1
    }
}

/// One fold with its partial results of the tick, one slot per chunk.
struct Fold<E, P, F> {
    fold: F,
    /// Set by whichever thread folds the chunk; taken, in order, by the merge system.
    partials: Vec<OnceLock<P>>,
    event: PhantomData<fn(&E)>,
}

/// A fold without its partial result type, as the fold system sees it.
trait ErasedFold<E>: Send + Sync {
    /// Drops any partials left over and makes one empty slot per chunk of this tick.
    fn start(&mut self, chunks: usize);

    /// Folds chunk `index` into its slot.
    fn fold_chunk(&self, index: usize, events: &[E]);

    /// The fold, for its merge system to recover its type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<E, P, F> ErasedFold<E> for Fold<E, P, F>
where
    E: Event,
    P: Send + Sync + 'static,
    F: Fn(&[E]) -> P + Send + Sync + 'static,
{
    fn start(&mut self, chunks: usize) {
        self.partials.clear();
        self.partials.resize_with(chunks, OnceLock::new);
    }

    fn fold_chunk(&self, index: usize, events: &[E]) {
        if let Some(slot) = self.partials.get(index) {
            // Each chunk is folded once a tick, so the slot is empty.
            let _ = slot.set((self.fold)(events));
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The system that runs every fold of `E` over this tick's events, chunk by chunk.
pub(crate) fn run_event_folds<E: Event>(
    events: EventReader<E>,
    mut folds: ResMut<EventFolds<E>>,
    pool: Res<ComputePool>,
) {
    let events = events.as_slice();
    let chunk_len = fold_chunk_len::<E>();
    let chunks = events.len().div_ceil(chunk_len);
    folds.folds.iter_mut().for_each(|fold| fold.start(chunks));
    let folds = &folds.folds;
    pool.for_each_chunk(events, chunk_len, |index, chunk| {
        fold_every_one(folds, index, chunk);
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

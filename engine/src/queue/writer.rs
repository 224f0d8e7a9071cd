//! The write side of a queue: a buffer owned by one system, merged at the end of the tick.

use super::early::WriterFolds;
use crate::Event;

/// A system parameter that sends events of type `T`, readable during the next tick.
///
/// Writes go to a buffer owned by the system, so writers never conflict: they run in
/// parallel with each other and with readers. At the end of the tick the buffers of all
/// systems are appended to the queue in system registration order, whatever order the systems
/// ran in. The buffer keeps its capacity, so a warm writer does not allocate.
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Debug, Clone, Copy)]
/// struct Spawned(u32);
///
/// fn spawner(mut out: EventWriter<Spawned>, time: Res<SimTime>) {
///     out.send(Spawned(time.tick() as u32));
///     out.send_batch([Spawned(100), Spawned(101)]);
/// }
/// # let mut app = App::new();
/// # app.add_systems(spawner);
/// # app.build().unwrap();
/// ```
///
/// When the event type has [event folds](crate::App::add_event_fold), a large
/// [`send_batch`](Self::send_batch) also folds the events while it writes them (see
/// [`App::add_event_fold`](crate::App::add_event_fold)); what the folds deliver does not change.
pub struct EventWriter<'s, T: Event> {
    pub(crate) buffer: &'s mut Vec<T>,
    pub(crate) folds: &'s mut WriterFolds<T>,
}

impl<T: Event> std::fmt::Debug for EventWriter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter")
            .field("event", &std::any::type_name::<T>())
            .field("sent", &self.len())
            .finish()
    }
}

impl<T: Event> EventWriter<'_, T> {
    /// Sends one event.
    pub fn send(&mut self, event: T) {
        self.buffer.push(event);
    }

    /// Sends every event of `events`, in order.
    ///
    /// If `T` has event folds and the iterator's size hint promises at least
    /// [`WRITE_FOLD_MIN_BYTES`](crate::WRITE_FOLD_MIN_BYTES) of events, the batch is folded as
    /// it is written, on this thread and on the engine's idle workers, instead of in the next
    /// tick's fold system. Only the writer whose events start the tick's writes can save the
    /// fold system that work, so a writer whose buffer was merged after another writer's (or
    /// after a write through the world) the last time its buffer was merged leaves its next
    /// batch to the read path. Write-time work can be wasted: a restored snapshot, or a writer
    /// merged after another one this time, has its chunks folded again when read, and a fold
    /// set that skips the tick that reads the events never uses them.
    pub fn send_batch(&mut self, events: impl IntoIterator<Item = T>) {
        let events = events.into_iter();
        if self.folds.wants(events.size_hint().0) {
            self.folds.send_batch(self.buffer, events);
        } else {
            self.buffer.extend(events);
        }
    }

    /// Events this system has sent during this tick so far.
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// True when this system has sent nothing during this tick so far.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }
}

impl<T: Event> Extend<T> for EventWriter<'_, T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, events: I) {
        self.send_batch(events);
    }
}

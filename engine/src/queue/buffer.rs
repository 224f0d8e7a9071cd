//! The store behind one event type: two buffers and the counters that describe a tick.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use bevy_ecs::{resource::Resource, world::WorldId};

use crate::Event;

/// Counters of one event queue for one tick.
///
/// "Unconsumed" follows the contract in the crate docs: events readable during a tick in which
/// no [`EventReader`](crate::EventReader) of their type ran are counted here, because nobody
/// will ever see them (they are not delivered later).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueTickStats {
    /// Events merged from writer systems during this tick (readable next tick).
    pub written: usize,
    /// Events collected from timers and channel sources at the start of this tick.
    pub collected: usize,
    /// Events readable during this tick (written during the previous tick plus collected).
    pub readable: usize,
    /// Readable events of this tick that no reader system consumed.
    pub unconsumed: usize,
}

/// Running totals of one event queue since it was created (when its type was first used, when
/// it came back after a user removed it, or when a user inserted a new one in its place).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueTotals {
    /// Sum of [`QueueTickStats::written`].
    pub written: u64,
    /// Sum of [`QueueTickStats::collected`].
    pub collected: u64,
    /// Sum of [`QueueTickStats::readable`].
    pub readable: u64,
    /// Sum of [`QueueTickStats::unconsumed`].
    pub unconsumed: u64,
}

/// A typed, double-buffered event queue, stored as a bevy_ecs resource.
///
/// # Buffer lifetime
///
/// * `pending` receives the events of writer systems, merged at the end of a tick in system
///   registration order.
/// * At the start of the next tick the buffers swap: `pending` becomes `readable`, the buffer
///   that was readable is cleared (its capacity kept) and becomes `pending`.
/// * Timers and channel sources then append to `readable`.
///
/// So every event is readable during exactly one tick: the one after it was written (or the
/// one it was collected in). After warm-up no tick allocates.
///
/// The buffer that was readable is not kept for `pending` but put in a spare slot, which
/// the first writer system to run takes as its private buffer:
/// a tick's writes go into the buffer the readers of the previous tick just went through,
/// still in cache, and the written events alternate between two buffers (not three).
///
/// # Removing the queue
///
/// The engine creates the queue of a type when it is first used. A queue removed with
/// `World::remove_resource` takes its events with it (they are in the removed value), and
/// its [`totals`](Self::totals) start again from zero in the new one: the next write of the
/// type (a writer system's merge, a source, [`send_event`](crate::WorldEventsExt::send_event);
/// for the queues of timers, the next collection) inserts an empty queue, and events flow as
/// before from then on. Until then the readers of the type fail with
/// [`TickError::SystemFailed`](crate::TickError::SystemFailed) naming `EventQueue`, as a
/// missing `Res` does in bevy.
#[derive(Resource)]
pub struct EventQueue<T: Event> {
    readable: Vec<T>,
    pending: Vec<T>,
    spare: SpareBuffer<T>,
    collected: usize,
    consumed: AtomicBool,
    last: QueueTickStats,
    totals: QueueTotals,
    /// The merge that made the start of the pending events, and of the readable ones: event
    /// folds use partial results computed at write time only for the readable events of the
    /// merge they were computed for (see [`fold`](super::fold)). Replacing the events drops
    /// both, and a new queue has neither.
    pending_merge: Option<MergeId>,
    readable_merge: Option<MergeId>,
    /// The world whose queue registry swaps this queue, once registered there: a queue the
    /// user inserted (made by hand, or taken from another world) has none until its first use
    /// registers it. Lets that use check one field instead of the registry.
    registered_in: Option<WorldId>,
}

/// Names one merge of a writer's buffer at the start of a queue's pending events, unique in
/// the process (whatever queue, however many queues were made and dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MergeId(u64);

impl MergeId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        MergeId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl<T: Event> std::fmt::Debug for EventQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("event", &std::any::type_name::<T>())
            .field("readable", &self.readable.len())
            .field("pending", &self.pending.len())
            .field("last", &self.last)
            .field("totals", &self.totals)
            .finish()
    }
}

impl<T: Event> Default for EventQueue<T> {
    fn default() -> Self {
        Self {
            readable: Vec::new(),
            pending: Vec::new(),
            spare: SpareBuffer::default(),
            collected: 0,
            consumed: AtomicBool::new(false),
            last: QueueTickStats::default(),
            totals: QueueTotals::default(),
            pending_merge: None,
            readable_merge: None,
            registered_in: None,
        }
    }
}

impl<T: Event> EventQueue<T> {
    /// The events readable during the current tick, in delivery order.
    pub fn readable(&self) -> &[T] {
        &self.readable
    }

    /// Events merged during the current tick, which become readable next tick.
    pub fn pending(&self) -> &[T] {
        &self.pending
    }

    /// Counters of the last completed tick.
    pub fn last_tick_stats(&self) -> QueueTickStats {
        self.last
    }

    /// Running totals since this queue was created (see [`QueueTotals`]).
    pub fn totals(&self) -> QueueTotals {
        self.totals
    }

    /// Step 1 of a tick: last tick's writes become readable; last tick's readable events go.
    pub(crate) fn swap(&mut self) {
        self.readable_merge = self.pending_merge.take();
        std::mem::swap(&mut self.readable, &mut self.pending);
        self.pending.clear();
        self.spare.exchange(&mut self.pending);
        self.collected = 0;
        *self.consumed.get_mut() = false;
        debug_assert!(
            self.pending.is_empty(),
            "pending must start every tick empty"
        );
    }

    /// The merge that made the start of the readable events, if any.
    pub(crate) fn readable_merge(&self) -> Option<MergeId> {
        self.readable_merge
    }

    /// The merge that made the start of the pending events, if any.
    pub(crate) fn pending_merge(&self) -> Option<MergeId> {
        self.pending_merge
    }

    /// The slot through which this queue hands the last readable buffer to a writer.
    pub(crate) fn spare(&self) -> SpareBuffer<T> {
        self.spare.clone()
    }

    /// Whether the queue registry of world `world` swaps this queue.
    pub(crate) fn is_registered_in(&self, world: WorldId) -> bool {
        self.registered_in == Some(world)
    }

    /// Records that the queue registry of world `world` swaps this queue.
    pub(crate) fn mark_registered_in(&mut self, world: WorldId) {
        self.registered_in = Some(world);
    }

    /// Whether `spare` is this queue's spare slot (a writer's may be that of a queue the user
    /// replaced since).
    pub(crate) fn has_spare(&self, spare: &SpareBuffer<T>) -> bool {
        self.spare.is(spare)
    }

    /// Step 2 of a tick: an event from a timer or a channel source, readable this tick.
    pub(crate) fn push_collected(&mut self, event: T) {
        self.readable.push(event);
        self.collected += 1;
    }

    /// Step 2 of a tick: a whole batch from a channel source, readable this tick; `events`
    /// ends empty with its capacity.
    pub(crate) fn append_collected(&mut self, events: &mut Vec<T>) {
        self.collected += events.len();
        self.readable.append(events);
    }

    /// Step 2 of a tick: the first events of a batch split at a source's budget.
    pub(crate) fn extend_collected(&mut self, events: impl ExactSizeIterator<Item = T>) {
        self.collected += events.len();
        self.readable.extend(events);
    }

    /// Step 4 of a tick: one writer system's private buffer, appended in registration order.
    /// The first writer of a tick hands its whole buffer over (a pointer swap, no copy) and
    /// gets the empty pending buffer back; later ones are appended. Either way `events` ends
    /// empty with capacity, so warm writers never allocate. Returns the merge's id when
    /// `events` became the start of the pending events (nothing was pending before).
    pub(crate) fn merge_written(&mut self, events: &mut Vec<T>) -> Option<MergeId> {
        if self.pending.is_empty() {
            std::mem::swap(&mut self.pending, events);
            let merge = MergeId::next();
            self.pending_merge = Some(merge);
            Some(merge)
        } else {
            self.pending.append(events);
            None
        }
    }

    /// A write through the world (exclusive systems, commands, between ticks): appended to
    /// the pending events at once, readable next tick.
    pub(crate) fn push_pending(&mut self, event: T) {
        self.pending.push(event);
    }

    /// Several writes through the world, in order.
    pub(crate) fn extend_pending(&mut self, events: impl IntoIterator<Item = T>) {
        self.pending.extend(events);
    }

    /// Drops the readable and the pending events (restoring a snapshot that did not carry
    /// this queue).
    pub(crate) fn clear_events(&mut self) {
        self.forget_merges();
        self.readable.clear();
        self.pending.clear();
    }

    /// The events were replaced: no merge made them.
    fn forget_merges(&mut self) {
        self.pending_merge = None;
        self.readable_merge = None;
    }

    /// Called by every reader system when it runs. Only flips a flag the first time, so
    /// parallel readers do not fight over the cache line.
    pub(crate) fn mark_consumed(&self) {
        if !self.consumed.load(Ordering::Relaxed) {
            self.consumed.store(true, Ordering::Relaxed);
        }
    }

    /// Step 5 of a tick: close the counters of the tick that just ran.
    pub(crate) fn finish_tick(&mut self) -> QueueTickStats {
        let readable = self.readable.len();
        let unconsumed = if *self.consumed.get_mut() {
            0
        } else {
            readable
        };
        self.last = QueueTickStats {
            written: self.pending.len(),
            collected: self.collected,
            readable,
            unconsumed,
        };
        self.totals.written += self.last.written as u64;
        self.totals.collected += self.last.collected as u64;
        self.totals.readable += readable as u64;
        self.totals.unconsumed += unconsumed as u64;
        self.last
    }
}

/// One empty buffer passed between a queue and its writer systems: the queue puts the
/// buffer its readers just finished in, the first writer of the tick takes it and leaves its
/// own (empty) one. Shared, not a world resource, so a writer reaches it without declaring
/// access to the queue (writers never conflict with readers).
pub(crate) struct SpareBuffer<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for SpareBuffer<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T> Clone for SpareBuffer<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> SpareBuffer<T> {
    /// Whether both are the same slot (of the same queue).
    pub(crate) fn is(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Swaps `buffer` with the spare one. Skipped when another writer of the type is
    /// swapping at this moment (it gets the warm buffer); buffers are only ever empty here,
    /// so which one a writer gets never changes what is delivered.
    pub(crate) fn exchange(&self, buffer: &mut Vec<T>) {
        debug_assert!(buffer.is_empty(), "only empty buffers change hands");
        match self.0.try_lock() {
            Ok(mut spare) => std::mem::swap(&mut *spare, buffer),
            // A panic while swapping two vectors cannot leave them inconsistent.
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                std::mem::swap(&mut *poisoned.into_inner(), buffer)
            }
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
    }
}

/// Snapshots: the queue's events, copied and put back (the counters stay as they are).
impl<T: Event + Clone> EventQueue<T> {
    /// Copies of the readable and the pending events.
    pub(crate) fn clone_contents(&self) -> (Vec<T>, Vec<T>) {
        (self.readable.clone(), self.pending.clone())
    }

    /// Replaces the readable and the pending events.
    pub(crate) fn restore_contents(&mut self, readable: Vec<T>, pending: Vec<T>) {
        self.forget_merges();
        self.readable = readable;
        self.pending = pending;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_readable_during_exactly_the_tick_after_it_was_written() {
        let mut queue = EventQueue::<u32>::default();
        queue.merge_written(&mut vec![1, 2]);
        assert!(queue.readable().is_empty());
        queue.swap();
        assert_eq!(queue.readable(), &[1, 2]);
        queue.merge_written(&mut vec![3]);
        assert_eq!(
            queue.readable(),
            &[1, 2],
            "new writes wait for the next tick"
        );
        queue.swap();
        assert_eq!(queue.readable(), &[3]);
        queue.swap();
        assert!(queue.readable().is_empty());
    }

    #[test]
    fn collected_events_follow_last_ticks_writes() {
        let mut queue = EventQueue::<u32>::default();
        queue.merge_written(&mut vec![1]);
        queue.swap();
        queue.push_collected(9);
        assert_eq!(queue.readable(), &[1, 9]);
        let stats = queue.finish_tick();
        assert_eq!(stats.collected, 1);
        assert_eq!(stats.readable, 2);
        assert_eq!(stats.unconsumed, 2, "nobody read them");
    }

    #[test]
    fn capacity_is_kept_across_swaps() {
        let mut queue = EventQueue::<u64>::default();
        for _ in 0..3 {
            queue.merge_written(&mut (0..1000).collect());
            queue.swap();
        }
        let before = (queue.readable.capacity(), queue.pending.capacity());
        queue.merge_written(&mut (0..1000).collect());
        queue.swap();
        let after = (queue.readable.capacity(), queue.pending.capacity());
        assert_eq!(before.0.min(before.1), after.0.min(after.1));
        assert!(after.0 >= 1000 && after.1 >= 1000);
    }

    #[test]
    fn a_writer_gets_the_buffer_the_readers_just_finished() {
        let mut queue = EventQueue::<u64>::default();
        let spare = queue.spare();
        let mut writer = Vec::new();
        let mut written_into = Vec::new();
        for tick in 0..6u64 {
            queue.swap();
            spare.exchange(&mut writer);
            writer.extend(0..100 + tick);
            written_into.push(writer.as_ptr());
            queue.merge_written(&mut writer);
            assert_eq!(queue.pending().len() as u64, 100 + tick);
        }
        // From the third tick on, writes alternate between two buffers.
        assert_eq!(written_into[2], written_into[4]);
        assert_eq!(written_into[3], written_into[5]);
        assert_ne!(written_into[4], written_into[5]);
    }

    #[test]
    fn consumed_ticks_count_nothing_unconsumed() {
        let mut queue = EventQueue::<u8>::default();
        queue.merge_written(&mut vec![1, 2, 3]);
        queue.swap();
        queue.mark_consumed();
        assert_eq!(queue.finish_tick().unconsumed, 0);
        queue.swap();
        assert_eq!(queue.totals().readable, 3);
    }
}

//! The read side of a queue: a zero-copy view of the events readable this tick.

use crate::{Event, EventQueue};

/// A system parameter that reads the events of type `T` readable during this tick.
///
/// It takes shared access to the queue only, so any number of readers run in parallel. It is
/// zero-copy: [`as_slice`](Self::as_slice) and [`iter`](Self::iter) look into the queue's
/// readable buffer. Every reader that runs in a tick sees all of that tick's events, in the
/// same order: last tick's writes (writer systems in registration order), then due timers,
/// then channel sources (registration order, arrival order within a source).
///
/// The readable events are one contiguous slice, so a hot loop costs what the same loop over
/// a `&[T]` costs: `iter().fold(..)`, `iter().map(..).sum()` and `for` loops all run over the
/// slice without a per-event check of where a chunk ends. Readers of large ticks (a million
/// events) are bounded by reading memory, not by the queue.
///
/// A reader whose system is skipped (for example by a run condition) misses that tick's
/// events; they are counted as unconsumed when no reader at all ran.
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Debug, Clone, Copy)]
/// struct Hit(u32);
///
/// fn total_damage(hits: EventReader<Hit>, mut total: ResMut<Total>) {
///     total.0 += hits.iter().map(|hit| hit.0).sum::<u32>();
/// }
/// # #[derive(Resource, Default)] struct Total(u32);
/// # let mut app = App::new();
/// # app.init_resource::<Total>().add_systems(total_damage);
/// # app.build().unwrap();
/// ```
pub struct EventReader<'w, T: Event> {
    pub(crate) queue: &'w EventQueue<T>,
}

impl<T: Event> std::fmt::Debug for EventReader<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReader")
            .field("event", &std::any::type_name::<T>())
            .field("readable", &self.len())
            .finish()
    }
}

impl<'w, T: Event> EventReader<'w, T> {
    /// The events readable this tick, as one slice.
    pub fn as_slice(&self) -> &'w [T] {
        self.queue.readable()
    }

    /// Iterates over the events readable this tick.
    pub fn iter(&self) -> std::slice::Iter<'w, T> {
        self.as_slice().iter()
    }

    /// How many events are readable this tick.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when no event is readable this tick.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl<'w, T: Event> IntoIterator for &EventReader<'w, T> {
    type Item = &'w T;
    type IntoIter = std::slice::Iter<'w, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

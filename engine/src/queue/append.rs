//! Appending to a vector on one thread while other threads read what was already appended:
//! the unsafe code of folding events at write time ([`early`](super::early)).
//!
//! [`split`] lends a vector's spare capacity to one [`AppendEnd`], which writes events into it
//! and publishes how many are written, and to any number of [`ReadEnd`]s, which hand out
//! slices of the published events. The vector never reallocates while they live (a full
//! [`AppendEnd`] refuses more events), published events are never written again, and the
//! vector's length is set when the [`AppendEnd`] is dropped, also while unwinding, so the
//! events written so far stay in it as with [`Vec::extend`].

use std::{
    marker::PhantomData,
    sync::atomic::{AtomicUsize, Ordering},
};

/// The writing end: appends events after the vector's length, up to its capacity.
pub(crate) struct AppendEnd<'v, T> {
    vec: &'v mut Vec<T>,
    /// The vector's buffer, taken once; see [`split`] for why it stays valid.
    base: *mut T,
    len: usize,
    capacity: usize,
    published: &'v AtomicUsize,
}

/// A reading end: slices of the events published so far. `Copy`, and shareable between threads
/// when the events are.
pub(crate) struct ReadEnd<'v, T> {
    base: *const T,
    published: &'v AtomicUsize,
    events: PhantomData<&'v [T]>,
}

impl<T> Clone for ReadEnd<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ReadEnd<'_, T> {}

// SAFETY: a `ReadEnd` only hands out shared references to published events, which nobody
// writes while it lives (see `split`): sending or sharing it is sharing `&[T]`, which needs
// `T: Sync`.
unsafe impl<T: Sync> Send for ReadEnd<'_, T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Sync> Sync for ReadEnd<'_, T> {}

/// Splits `vec` into its appending end and a reading end. `published` counts the events
/// readers may see; it starts at the vector's length (those events are published already).
///
/// Reserve before splitting: the appending end writes into the spare capacity only.
pub(crate) fn split<'v, T>(
    vec: &'v mut Vec<T>,
    published: &'v mut AtomicUsize,
) -> (AppendEnd<'v, T>, ReadEnd<'v, T>) {
    let len = vec.len();
    *published.get_mut() = len;
    let published = &*published;
    // `as_mut_ptr` makes no reference to the buffer, so the pointer stays valid for as long as
    // nothing reallocates, shrinks or takes a reference to the whole buffer: `AppendEnd` holds
    // the only `&mut Vec` for `'v` and only ever calls `set_len` on it (in `drop`), which
    // touches the length field, not the buffer.
    let base = vec.as_mut_ptr();
    let capacity = vec.capacity();
    let reader = ReadEnd {
        base,
        published,
        events: PhantomData,
    };
    let writer = AppendEnd {
        vec,
        base,
        len,
        capacity,
        published,
    };
    (writer, reader)
}

impl<T> AppendEnd<'_, T> {
    /// Appends events from `events` until `count` were appended, it ends or the capacity
    /// is used up; returns how many were appended.
    #[inline]
    pub(crate) fn extend_up_to(
        &mut self,
        events: &mut impl Iterator<Item = T>,
        count: usize,
    ) -> usize {
        let room = count.min(self.capacity - self.len);
        let base = self.base;
        // Counts each event as soon as it is written, also if `events` panics.
        let mut len = LenOnDrop {
            len: &mut self.len,
            local: 0,
        };
        let start = *len.len;
        // Internal iteration (`for_each`), not `next` in a loop: the iterator's own loop
        // keeps its position in registers when the caller owns it.
        events.take(room).for_each(|event| {
            debug_assert!(len.local < room, "`Take` yields at most `room` events");
            // SAFETY: std's `Take` yields at most `room` events, whatever `events` does (it
            // counts them itself), so `start + local < start + room <= capacity`: the slot is
            // inside the buffer, past every published event and every event written before.
            unsafe { base.add(start + len.local).write(event) };
            len.local += 1;
        });
        len.local
    }

    /// True when the capacity is used up.
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.capacity
    }

    /// Events in the vector, published or not.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Makes every event written so far visible to the readers.
    pub(crate) fn publish(&self) {
        self.published.store(self.len, Ordering::Release);
    }
}

/// Adds the events written by [`AppendEnd::extend_up_to`] to the length when dropped, so
/// the count survives a panic of the events' iterator.
struct LenOnDrop<'a> {
    len: &'a mut usize,
    local: usize,
}

impl Drop for LenOnDrop<'_> {
    fn drop(&mut self) {
        *self.len += self.local;
    }
}

impl<T> Drop for AppendEnd<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the first `len` slots are initialised: the vector's own events, then the
        // ones `extend_up_to` wrote in order; `len <= capacity`.
        unsafe { self.vec.set_len(self.len) };
    }
}

impl<'v, T> ReadEnd<'v, T> {
    /// The events `start..end`, if all of them are published.
    pub(crate) fn get(&self, start: usize, end: usize) -> Option<&'v [T]> {
        if start > end || end > self.published.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `start..end` lies in the published prefix: those slots were initialised
        // before the `Release` store that published them, which the `Acquire` load above
        // saw; they are never written again, moved or freed while `'v` lives (the appending
        // end writes only past them and never reallocates, and it holds the vector's only
        // `&mut` for `'v`).
        Some(unsafe { std::slice::from_raw_parts(self.base.add(start), end - start) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_published_events_only_and_the_vector_keeps_every_event_written() {
        let mut events: Vec<String> = Vec::with_capacity(4);
        events.push("old".to_owned());
        let mut published = AtomicUsize::new(0);
        {
            let (mut writer, reader) = split(&mut events, &mut published);
            assert_eq!(reader.get(0, 1), Some(&["old".to_owned()][..]));
            let mut more = ["a", "b", "c", "d"].map(str::to_owned).into_iter();
            assert_eq!(writer.extend_up_to(&mut more, 1), 1);
            assert_eq!(reader.get(0, 2), None, "not published yet");
            writer.publish();
            assert_eq!(reader.get(1, 2).map(|s| s[0].as_str()), Some("a"));
            assert_eq!(writer.extend_up_to(&mut more, 5), 2, "only two more fit");
            assert!(writer.is_full());
            assert_eq!(
                more.next().as_deref(),
                Some("d"),
                "the rest is left in the iterator"
            );
            assert_eq!(writer.len(), 4);
        }
        assert_eq!(events, ["old", "a", "b", "c"]);
    }

    #[test]
    fn events_written_before_a_panic_stay_in_the_vector() {
        let mut events: Vec<u32> = Vec::with_capacity(8);
        let mut published = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (mut writer, _reader) = split(&mut events, &mut published);
            let mut failing = (0..5).inspect(|&i| assert!(i < 3, "the source of events fails"));
            writer.extend_up_to(&mut failing, 5);
        }));
        assert!(result.is_err());
        assert_eq!(events, [0, 1, 2]);
    }

    #[test]
    fn another_thread_reads_chunks_while_they_are_appended() {
        const CHUNK: usize = 64;
        const EVENTS: usize = CHUNK * 200;
        let mut events: Vec<usize> = Vec::with_capacity(EVENTS);
        let mut published = AtomicUsize::new(0);
        let (mut writer, reader) = split(&mut events, &mut published);
        std::thread::scope(|scope| {
            let folder = scope.spawn(move || {
                let mut sum = 0;
                for chunk in 0..EVENTS / CHUNK {
                    let slice = loop {
                        if let Some(slice) = reader.get(chunk * CHUNK, (chunk + 1) * CHUNK) {
                            break slice;
                        }
                        std::hint::spin_loop();
                    };
                    sum += slice.iter().sum::<usize>();
                }
                sum
            });
            let mut all = 0..EVENTS;
            while writer.extend_up_to(&mut all, CHUNK) == CHUNK {
                writer.publish();
            }
            assert_eq!(folder.join().unwrap(), (0..EVENTS).sum::<usize>());
        });
        drop(writer);
        assert_eq!(events.len(), EVENTS);
    }
}

//! The order timers come due in: a ring of per-tick buckets for the next [`NEAR`] ticks and a
//! binary heap for later ones (a two-level timing wheel). Scheduling and firing a timer that
//! is due soon cost O(1); later ones pay one heap push and pop when they move into the ring.
//! A tick with nothing due costs a bucket look and a heap peek, whatever is pending.

use std::{cmp::Reverse, collections::BinaryHeap};

use super::spec::TimerHandle;

/// Ticks covered by the ring.
const NEAR: u128 = 256;

/// `(due tick, creation order, handle)`: sorting entries sorts them in firing order.
pub(crate) type DueEntry = (u64, u64, TimerHandle);

/// Entries by due tick. Entries are never validated here: the owner skips stale ones.
///
/// Invariants: every entry with `due < cursor + NEAR` is in the ring, in the bucket of
/// `max(due, cursor)`; every other entry is in the heap. `cursor` is a u128 so that tick
/// `u64::MAX` can be passed.
#[derive(Clone)]
pub(crate) struct DueQueue {
    cursor: u128,
    near: Vec<Vec<DueEntry>>,
    near_len: usize,
    far: BinaryHeap<Reverse<DueEntry>>,
}

impl Default for DueQueue {
    fn default() -> Self {
        Self {
            cursor: 0,
            near: (0..NEAR).map(|_| Vec::new()).collect(),
            near_len: 0,
            far: BinaryHeap::new(),
        }
    }
}

impl DueQueue {
    /// Entries held, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.near_len + self.far.len()
    }

    /// Adds an entry; one due before the cursor (the first tick not popped yet) comes due at
    /// the cursor.
    pub(crate) fn push(&mut self, entry: DueEntry) {
        let due = u128::from(entry.0);
        if due < self.cursor + NEAR {
            let bucket = due.max(self.cursor) % NEAR;
            self.near[bucket as usize].push(entry);
            self.near_len += 1;
        } else {
            self.far.push(Reverse(entry));
        }
    }

    /// Appends every entry due at or before `tick` to `out`, by (due tick, creation order).
    pub(crate) fn pop_due(&mut self, tick: u64, out: &mut Vec<DueEntry>) {
        let tick = u128::from(tick);
        while self.cursor <= tick {
            if self.near_len == 0 {
                // Nothing in the ring: jump to the next far entry, or past `tick`.
                let next = self.far.peek().map(|Reverse(entry)| u128::from(entry.0));
                self.cursor = next.filter(|&due| due <= tick).unwrap_or(tick + 1);
            } else {
                self.take_bucket(out);
                self.cursor += 1;
            }
            self.move_near_entries_into_the_ring();
        }
    }

    /// Drops every entry and adds `entries` (when most held entries are stale).
    pub(crate) fn rebuild(&mut self, entries: impl Iterator<Item = DueEntry>) {
        self.near.iter_mut().for_each(Vec::clear);
        self.near_len = 0;
        self.far.clear();
        entries.for_each(|entry| self.push(entry));
    }

    /// The cursor's bucket, sorted, into `out`; the bucket keeps its capacity.
    fn take_bucket(&mut self, out: &mut Vec<DueEntry>) {
        let bucket = &mut self.near[(self.cursor % NEAR) as usize];
        self.near_len -= bucket.len();
        bucket.sort_unstable();
        out.append(bucket);
    }

    fn move_near_entries_into_the_ring(&mut self) {
        let horizon = self.cursor + NEAR;
        while let Some(&Reverse(entry)) = self.far.peek() {
            if u128::from(entry.0) >= horizon {
                return;
            }
            self.far.pop();
            self.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(due: u64, order: u64) -> DueEntry {
        (due, order, TimerHandle::new(1, order, 0))
    }

    fn due_orders(queue: &mut DueQueue, tick: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        queue.pop_due(tick, &mut out);
        out.into_iter()
            .map(|(due, order, _)| (due, order))
            .collect()
    }

    #[test]
    fn near_and_far_entries_come_out_merged_in_order() {
        let mut queue = DueQueue::default();
        let dues = [300, 3, 1000, 3, 255, 256, 257, 5_000_000, 0];
        for (order, due) in dues.into_iter().enumerate() {
            queue.push(entry(due, order as u64));
        }
        assert_eq!(due_orders(&mut queue, 2), vec![(0, 8)]);
        assert_eq!(due_orders(&mut queue, 3), vec![(3, 1), (3, 3)]);
        let expected = vec![(255, 4), (256, 5), (257, 6), (300, 0), (1000, 2)];
        assert_eq!(due_orders(&mut queue, 4_999_999), expected, "a long jump");
        assert_eq!(queue.len(), 1);
        assert_eq!(due_orders(&mut queue, u64::MAX), vec![(5_000_000, 7)]);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn late_entries_come_due_at_once_and_first() {
        let mut queue = DueQueue::default();
        queue.push(entry(12, 0));
        assert!(due_orders(&mut queue, 10).is_empty());
        queue.push(entry(4, 1)); // due before the cursor (11)
        assert_eq!(due_orders(&mut queue, 12), vec![(4, 1), (12, 0)]);
    }

    #[test]
    fn the_last_tick_of_time_can_be_reached_and_passed() {
        let mut queue = DueQueue::default();
        queue.push(entry(u64::MAX, 0));
        queue.push(entry(u64::MAX - 1, 1));
        assert_eq!(
            due_orders(&mut queue, u64::MAX - 1),
            vec![(u64::MAX - 1, 1)]
        );
        assert_eq!(due_orders(&mut queue, u64::MAX), vec![(u64::MAX, 0)]);
        assert_eq!(queue.len(), 0);
        let nothing = due_orders(&mut queue, u64::MAX);
        assert!(nothing.is_empty(), "no overflow past the end");
    }

    #[test]
    fn rebuild_keeps_only_the_given_entries() {
        let mut queue = DueQueue::default();
        (0..1000).for_each(|i| queue.push(entry(i * 7, i)));
        queue.rebuild([entry(14, 2), entry(7000, 999)].into_iter());
        assert_eq!(queue.len(), 2);
        assert_eq!(due_orders(&mut queue, 10_000), vec![(14, 2), (7000, 999)]);
    }

    use proptest::prelude::*;

    /// Rounds of (tick advance, due offsets of the entries pushed before popping).
    fn rounds() -> impl Strategy<Value = Vec<(u64, Vec<u64>)>> {
        let dues = prop::collection::vec(prop_oneof![0u64..8, 0u64..600, 0u64..100_000], 0..12);
        prop::collection::vec((prop_oneof![1u64..4, 1u64..2000], dues), 1..60)
    }

    proptest! {
        #[test]
        fn pops_exactly_what_a_sorted_list_pops(rounds in rounds()) {
            let mut queue = DueQueue::default();
            let mut reference: Vec<DueEntry> = Vec::new();
            let (mut tick, mut order) = (0u64, 0u64);
            for (advance, offsets) in rounds {
                for offset in offsets {
                    // Some due before the current tick: they are late and come due now.
                    let due = (tick + offset).saturating_sub(3);
                    queue.push(entry(due, order));
                    reference.push(entry(due, order));
                    order += 1;
                }
                let mut popped = Vec::new();
                queue.pop_due(tick, &mut popped);
                reference.sort_unstable();
                let split = reference.partition_point(|e| e.0 <= tick);
                let expected: Vec<DueEntry> = reference.drain(..split).collect();
                prop_assert_eq!(popped, expected);
                prop_assert_eq!(queue.len(), reference.len());
                tick += advance;
            }
        }
    }
}

//! Step 2 of a tick: due timers first, then channel receivers drained into the readable
//! buffers, in source registration order, arrival order within a source, at most the source's
//! budget per tick. During a replay a source's feed replaces its channel.

use std::sync::atomic::Ordering;

use bevy_ecs::world::World;
use crossbeam_channel::TryRecvError;

use crate::{
    Event, EventQueue,
    queue::registry::with_queue,
    source::input::{Packet, SourceReceiver},
};

/// Counters of one source for one tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceTickStats {
    /// Events collected this tick.
    pub collected: usize,
    /// Events still waiting in the channel after collection (over budget, or sent meanwhile).
    pub backlog: usize,
    /// Every sender is gone and the channel is empty: nothing more will arrive. Reported
    /// from the first tick whose collection finds the channel empty (so one tick late when
    /// the last events exactly used up a budget), and in every tick after it; the engine
    /// goes on running either way.
    pub disconnected: bool,
    /// Total events collected since the engine was built.
    pub total: u64,
}

/// Anything that feeds a queue at the start of a tick.
pub(crate) trait Collect: Send + std::any::Any {
    /// The name shown in stats.
    fn name(&self) -> &str;

    /// Moves this tick's events into the readable buffer of its queue.
    fn collect(&mut self, world: &mut World, tick: u64) -> SourceTickStats;

    /// For finding a typed source again (`App::source_mut`).
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

/// Observes the events a source collected in a tick (recording).
pub type SourceTap<T> = Box<dyn FnMut(u64, &[T]) + Send>;

/// Supplies a source's events for a tick instead of its channel (replay): called once per
/// tick with the tick number and a buffer to push that tick's events into.
pub type SourceFeed<T> = Box<dyn FnMut(u64, &mut Vec<T>) + Send>;

/// A channel source as the engine holds it: a crossbeam receiver with a per-tick budget,
/// optionally observed by a tap (recording) or replaced by a feed (replay).
pub struct InputSource<T: Event> {
    name: String,
    channel: SourceReceiver<T>,
    /// The rest of a batch split at the budget: collected first next tick.
    carried: Vec<T>,
    budget: usize,
    total: u64,
    tap: Option<SourceTap<T>>,
    feed: Option<(SourceFeed<T>, Vec<T>)>,
}

impl<T: Event> std::fmt::Debug for InputSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputSource")
            .field("name", &self.name)
            .field("budget", &self.budget)
            .field("total", &self.total)
            .field("tapped", &self.tap.is_some())
            .field("fed", &self.feed.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Event> InputSource<T> {
    pub(crate) fn new(name: String, channel: SourceReceiver<T>, budget: usize) -> Self {
        Self {
            name,
            channel,
            carried: Vec::new(),
            budget,
            total: 0,
            tap: None,
            feed: None,
        }
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `tap` every tick with the events this source collected (possibly none).
    pub fn set_tap(&mut self, tap: SourceTap<T>) {
        self.tap = Some(tap);
    }

    /// Removes the tap.
    pub fn clear_tap(&mut self) {
        self.tap = None;
    }

    /// From now on the source's events come from `feed`, not from its channel (which is left
    /// untouched). The budget does not apply to a feed: it supplies a tick's events exactly.
    pub fn set_feed(&mut self, feed: SourceFeed<T>) {
        self.feed = Some((feed, Vec::new()));
    }

    /// Goes back to the live channel.
    pub fn clear_feed(&mut self) {
        self.feed = None;
    }

    /// Collects at most the budget: first what a split batch left over, then the channel in
    /// arrival order. A batch is appended whole when it fits; otherwise its first events fill
    /// the budget and the rest is carried over. Returns (collected, disconnected).
    fn drain_channel(&mut self, queue: &mut EventQueue<T>) -> (usize, bool) {
        let mut collected = self.take_carried(queue, self.budget);
        while collected < self.budget {
            match self.channel.rx.try_recv() {
                Ok(Packet::One(event)) => {
                    queue.push_collected(event);
                    collected += 1;
                }
                Ok(Packet::Batch(batch)) => {
                    // The batch leaves the channel (one message) and is carried whole:
                    // `extra` now counts all of its events instead of all but one.
                    self.channel.shared.extra.fetch_add(1, Ordering::Relaxed);
                    debug_assert!(self.carried.is_empty(), "the carry is used up first");
                    self.carried = batch;
                    collected += self.take_carried(queue, self.budget - collected);
                }
                Err(TryRecvError::Empty) => return (collected, false),
                Err(TryRecvError::Disconnected) => return (collected, true),
            }
        }
        (collected, false)
    }

    /// Moves at most `room` carried events into the queue, in order; how many it moved.
    fn take_carried(&mut self, queue: &mut EventQueue<T>, room: usize) -> usize {
        let taken = self.carried.len().min(room);
        if taken == 0 {
            return 0;
        }
        if taken == self.carried.len() {
            queue.append_collected(&mut self.carried);
            let drained = std::mem::take(&mut self.carried);
            // Back to the senders (dropped when enough are waiting there).
            let _ = self.channel.recycle.try_send(drained);
        } else {
            queue.extend_collected(self.carried.drain(..taken));
        }
        self.channel
            .shared
            .extra
            .fetch_sub(taken, Ordering::Relaxed);
        taken
    }

    fn drain_feed(&mut self, queue: &mut EventQueue<T>, tick: u64) -> usize {
        let Some((feed, buffer)) = &mut self.feed else {
            return 0;
        };
        feed(tick, buffer);
        let collected = buffer.len();
        for event in buffer.drain(..) {
            queue.push_collected(event);
        }
        collected
    }
}

impl<T: Event> Collect for InputSource<T> {
    fn name(&self) -> &str {
        &self.name
    }

    fn collect(&mut self, world: &mut World, tick: u64) -> SourceTickStats {
        let (collected, disconnected) = with_queue::<T, _>(world, |queue| {
            let first = queue.readable().len();
            let drained = if self.feed.is_some() {
                (self.drain_feed(queue, tick), false)
            } else {
                self.drain_channel(queue)
            };
            if let Some(tap) = &mut self.tap {
                tap(tick, &queue.readable()[first..]);
            }
            drained
        });
        self.total += collected as u64;
        SourceTickStats {
            collected,
            backlog: self.channel.rx.len() + self.channel.shared.extra.load(Ordering::Relaxed),
            disconnected,
            total: self.total,
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The first source in `sources` whose events are of type `T`.
pub(crate) fn find_source<T: Event>(
    sources: &mut [Box<dyn Collect>],
) -> Option<&mut InputSource<T>> {
    sources
        .iter_mut()
        .find_map(|source| source.as_any_mut().downcast_mut::<InputSource<T>>())
}

//! Channel handles for external producers (input devices, network, other threads).
//!
//! On an unbounded source a batch crosses the channel as one message (a [`Packet::Batch`]):
//! one channel operation per batch instead of one per event. The engine splits a batch
//! where the per-tick budget ends and keeps the rest for the next tick, ahead of anything
//! that arrived later. A bounded source counts its capacity in events, so there a batch is
//! sent event by event (each event takes one slot).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use crossbeam_channel::{Receiver, Sender};

use crate::Event;

/// Buffers that the engine keeps for senders to refill ([`EventSender::batch_buffer`]):
/// enough for a few producers to keep several batches in flight each.
const RECYCLED_BUFFERS: usize = 64;

/// What crosses a source's channel.
pub(crate) enum Packet<T> {
    /// One event.
    One(T),
    /// A batch, in order (never empty).
    Batch(Vec<T>),
}

/// Counters shared by the senders and the engine's end of one source.
#[derive(Debug, Default)]
pub(crate) struct SourceShared {
    /// Events waiting beyond one per channel message: the rest of each batch in the channel,
    /// plus the events of a split batch the engine carries over to the next tick. So the
    /// events waiting are `channel length + extra`.
    pub(crate) extra: AtomicUsize,
}

/// The engine's end of a source's channel.
pub(crate) struct SourceReceiver<T> {
    pub(crate) rx: Receiver<Packet<T>>,
    pub(crate) shared: Arc<SourceShared>,
    /// Drained batch buffers go back to the senders through here.
    pub(crate) recycle: Sender<Vec<T>>,
}

/// A source's channel: the sender handed to producers and the end the engine drains.
pub(crate) fn source_channel<T: Event>(
    capacity: Option<usize>,
) -> (EventSender<T>, SourceReceiver<T>) {
    let (tx, rx) = match capacity {
        Some(capacity) => crossbeam_channel::bounded(capacity),
        None => crossbeam_channel::unbounded(),
    };
    let (recycle, recycled) = crossbeam_channel::bounded(RECYCLED_BUFFERS);
    let shared = Arc::new(SourceShared::default());
    let sender = EventSender {
        tx,
        shared: Arc::clone(&shared),
        recycled,
    };
    (
        sender,
        SourceReceiver {
            rx,
            shared,
            recycle,
        },
    )
}

/// A failed send: the engine (the receiving side) is gone. The event is given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the engine is gone; the event was not sent")]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The event that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// A failed `try_send`. The event is given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError<T> {
    /// The bounded channel is full now.
    #[error("the channel is full; the event was not sent")]
    Full(T),
    /// The engine (the receiving side) is gone.
    #[error("the engine is gone; the event was not sent")]
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The event that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(event) | TrySendError::Disconnected(event) => event,
        }
    }
}

/// How a channel source is set up: its capacity and its per-tick budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    pub(crate) capacity: Option<usize>,
    pub(crate) budget: usize,
    pub(crate) name: Option<String>,
}

impl SourceConfig {
    /// A channel without a capacity limit; senders never block.
    pub fn unbounded() -> Self {
        Self {
            capacity: None,
            budget: usize::MAX,
            name: None,
        }
    }

    /// A channel holding at most `capacity` events; `send` blocks and `try_send` gives the
    /// event back while it is full. Batches are sent event by event here (each takes a
    /// slot); on an unbounded source a batch crosses the channel as one message.
    pub fn bounded(capacity: usize) -> Self {
        Self {
            capacity: Some(capacity),
            ..Self::unbounded()
        }
    }

    /// At most `budget` events are collected per tick; the rest wait in the channel for the
    /// next ticks, in order. Nothing is dropped. (At least 1.)
    pub fn budget(mut self, budget: usize) -> Self {
        self.budget = budget.max(1);
        self
    }

    /// A name for stats and recordings (default: the event type's name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self::unbounded()
    }
}

/// A failed batch send: how many events went through and the ones that did not, in order.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} events of a batch were not sent ({reason}); {sent} were", unsent.len())]
pub struct SendBatchError<T> {
    /// Events sent before the failure.
    pub sent: usize,
    /// The events not sent, in their original order.
    pub unsent: Vec<T>,
    /// Why sending stopped.
    pub reason: BatchStop,
}

/// Why a batch send stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchStop {
    /// The channel was full (`try_send_batch` only).
    #[error("the channel is full")]
    Full,
    /// The engine (the receiving side) is gone.
    #[error("the engine is gone")]
    Disconnected,
}

/// The sending side of a channel source: cloneable, `Send`, usable from any thread.
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// struct Key(char);
///
/// let mut app = App::new();
/// let keys = app.add_source::<Key>(SourceConfig::bounded(64).budget(16));
/// let producer = keys.clone();
/// std::thread::spawn(move || producer.send(Key('w')).unwrap()).join().unwrap();
/// keys.send_batch(vec![Key('a'), Key('s')]).unwrap();
///
/// // On an unbounded source a batch is one channel message; refill the engine's drained
/// // buffers to send without allocating.
/// let clicks = app.add_source::<Key>(SourceConfig::unbounded());
/// let mut batch = clicks.batch_buffer();
/// batch.extend([Key('l'), Key('r')]);
/// clicks.send_batch(batch).unwrap();
/// assert_eq!(clicks.len(), 2);
/// ```
pub struct EventSender<T> {
    tx: Sender<Packet<T>>,
    shared: Arc<SourceShared>,
    recycled: Receiver<Vec<T>>,
}

impl<T> std::fmt::Debug for EventSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSender")
            .field("event", &std::any::type_name::<T>())
            .field("capacity", &self.tx.capacity())
            .finish_non_exhaustive()
    }
}

impl<T> Clone for EventSender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
            recycled: self.recycled.clone(),
        }
    }
}

impl<T: Event> EventSender<T> {
    /// Sends one event, waiting while a bounded channel is full. Fails, giving the event back,
    /// only when the engine is gone.
    pub fn send(&self, event: T) -> Result<(), SendError<T>> {
        self.tx
            .send(Packet::One(event))
            .map_err(|error| SendError(single(error.0)))
    }

    /// Sends one event if there is room now; gives it back when full or disconnected.
    pub fn try_send(&self, event: T) -> Result<(), TrySendError<T>> {
        self.tx
            .try_send(Packet::One(event))
            .map_err(|error| match error {
                crossbeam_channel::TrySendError::Full(packet) => TrySendError::Full(single(packet)),
                crossbeam_channel::TrySendError::Disconnected(packet) => {
                    TrySendError::Disconnected(single(packet))
                }
            })
    }

    /// Sends every event in order, waiting while a bounded channel is full. On an unbounded
    /// source the batch is one channel message. On disconnection the events not sent are
    /// given back.
    pub fn send_batch(&self, events: Vec<T>) -> Result<(), SendBatchError<T>> {
        if self.tx.capacity().is_none() {
            return self.send_whole(events);
        }
        let mut events = events.into_iter();
        let mut sent = 0;
        while let Some(event) = events.next() {
            if let Err(SendError(event)) = self.send(event) {
                return Err(batch_error(sent, event, events, BatchStop::Disconnected));
            }
            sent += 1;
        }
        Ok(())
    }

    /// Sends events in order while there is room; gives back the rest when the channel fills
    /// up or is disconnected. On an unbounded source the batch is one channel message.
    pub fn try_send_batch(&self, events: Vec<T>) -> Result<(), SendBatchError<T>> {
        if self.tx.capacity().is_none() {
            return self.send_whole(events);
        }
        let mut events = events.into_iter();
        let mut sent = 0;
        while let Some(event) = events.next() {
            match self.try_send(event) {
                Ok(()) => sent += 1,
                Err(TrySendError::Full(event)) => {
                    return Err(batch_error(sent, event, events, BatchStop::Full));
                }
                Err(TrySendError::Disconnected(event)) => {
                    return Err(batch_error(sent, event, events, BatchStop::Disconnected));
                }
            }
        }
        Ok(())
    }

    /// An empty buffer for the next batch: one the engine has drained (its capacity kept)
    /// when there is one, a new one otherwise. Sending batches built in these buffers does
    /// not allocate once they are warm.
    pub fn batch_buffer(&self) -> Vec<T> {
        self.recycled.try_recv().unwrap_or_default()
    }

    /// The whole batch as one message (unbounded channels, which are never full).
    fn send_whole(&self, events: Vec<T>) -> Result<(), SendBatchError<T>> {
        let Some(beyond_first) = events.len().checked_sub(1) else {
            return Ok(());
        };
        // Counted before the send so the engine never subtracts what was not added.
        self.shared.extra.fetch_add(beyond_first, Ordering::Relaxed);
        self.tx.send(Packet::Batch(events)).map_err(|error| {
            self.shared.extra.fetch_sub(beyond_first, Ordering::Relaxed);
            let unsent = match error.0 {
                Packet::Batch(events) => events,
                Packet::One(event) => vec![event],
            };
            SendBatchError {
                sent: 0,
                unsent,
                reason: BatchStop::Disconnected,
            }
        })
    }

    /// Events waiting to be collected (in the channel, or the rest of a batch the engine
    /// split at its budget).
    pub fn len(&self) -> usize {
        self.tx.len() + self.shared.extra.load(Ordering::Relaxed)
    }

    /// True when no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The channel's capacity in events (`None`: unbounded).
    pub fn capacity(&self) -> Option<usize> {
        self.tx.capacity()
    }
}

/// The event of a packet that was sent as one event.
fn single<T>(packet: Packet<T>) -> T {
    match packet {
        Packet::One(event) => event,
        // `send` and `try_send` only ever send `Packet::One`; a batch given back here would
        // be a bug in this module, not in the caller's data.
        Packet::Batch(_) => unreachable!("a single send gives back a single event"),
    }
}

fn batch_error<T>(
    sent: usize,
    first: T,
    rest: std::vec::IntoIter<T>,
    reason: BatchStop,
) -> SendBatchError<T> {
    let mut unsent = Vec::with_capacity(rest.len() + 1);
    unsent.push(first);
    unsent.extend(rest);
    SendBatchError {
        sent,
        unsent,
        reason,
    }
}

//! Channel handles for external producers (input devices, network, other threads).

use crossbeam_channel::Sender;

pub use crossbeam_channel::{SendError, TrySendError};

use crate::Event;

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
    /// event back while it is full.
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
/// ```
#[derive(Debug)]
pub struct EventSender<T> {
    tx: Sender<T>,
}

impl<T> Clone for EventSender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Event> EventSender<T> {
    pub(crate) fn new(tx: Sender<T>) -> Self {
        Self { tx }
    }

    /// Sends one event, waiting while a bounded channel is full. Fails, giving the event back,
    /// only when the engine is gone.
    pub fn send(&self, event: T) -> Result<(), SendError<T>> {
        self.tx.send(event)
    }

    /// Sends one event if there is room now; gives it back when full or disconnected.
    pub fn try_send(&self, event: T) -> Result<(), TrySendError<T>> {
        self.tx.try_send(event)
    }

    /// Sends every event in order, waiting while the channel is full. On disconnection the
    /// events not sent are given back.
    pub fn send_batch(&self, events: Vec<T>) -> Result<(), SendBatchError<T>> {
        let mut events = events.into_iter();
        let mut sent = 0;
        while let Some(event) = events.next() {
            if let Err(SendError(event)) = self.tx.send(event) {
                return Err(batch_error(sent, event, events, BatchStop::Disconnected));
            }
            sent += 1;
        }
        Ok(())
    }

    /// Sends events in order while there is room; gives back the rest when the channel fills
    /// up or is disconnected.
    pub fn try_send_batch(&self, events: Vec<T>) -> Result<(), SendBatchError<T>> {
        let mut events = events.into_iter();
        let mut sent = 0;
        while let Some(event) = events.next() {
            match self.tx.try_send(event) {
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

    /// Events waiting in the channel.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// True when no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    /// The channel's capacity (`None`: unbounded).
    pub fn capacity(&self) -> Option<usize> {
        self.tx.capacity()
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

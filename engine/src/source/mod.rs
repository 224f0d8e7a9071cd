//! Where events come from: channel handles for external producers ([`EventSender`]),
//! timers, and 2D physics.

pub(crate) mod input;
pub mod physics;
pub mod timer;

pub use input::{BatchStop, EventSender, SendBatchError, SendError, SourceConfig, TrySendError};

//! Where events come from: channel handles for external producers (timers and physics
//! arrive with their own issues).

mod input;

pub use input::{BatchStop, EventSender, SendBatchError, SendError, SourceConfig, TrySendError};

//! Typed double-buffered event queues: the store, its reader and writer system parameters,
//! and the registry the engine swaps every tick.

mod buffer;
#[allow(unsafe_code)]
mod params;
mod reader;
pub(crate) mod registry;
mod writer;

pub use buffer::{EventQueue, QueueTickStats, QueueTotals};
pub use reader::EventReader;
pub use writer::EventWriter;

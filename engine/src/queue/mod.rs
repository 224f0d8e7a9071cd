//! Typed double-buffered event queues: the store, its reader and writer system parameters,
//! writes through the world, the registry the engine swaps every tick, the `on_event` run
//! condition, and event folds (readers run together chunk by chunk).

#[allow(unsafe_code)]
mod append;
mod buffer;
mod condition;
mod early;
pub(crate) mod fold;
#[allow(unsafe_code)]
mod params;
mod reader;
pub(crate) mod registry;
mod world;
mod writer;

pub use buffer::{EventQueue, QueueTickStats, QueueTotals};
pub use condition::on_event;
pub use fold::{EventFoldSystems, FOLD_CHUNK_BYTES, WRITE_FOLD_MIN_BYTES, fold_chunk_len};
pub use reader::EventReader;
pub use world::WorldEventsExt;
pub use writer::EventWriter;

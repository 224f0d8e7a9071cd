//! # tickbus
//!
//! A fixed-timestep ECS event bus on [`bevy_ecs`]: events are never lost, independent
//! systems run in parallel on rayon only when that pays, and runs are identical for any number
//! of threads.
//!
//! ## One tick
//!
//! 1. **Swap.** Every event queue swaps its two buffers: what writer systems sent during the
//!    previous tick becomes readable; what was readable is cleared (capacity kept).
//! 2. **Collect.** Due [timers](timer) first (due tick, then creation order), then channel
//!    sources drained into the readable buffers in registration order, arrival order within
//!    a source, at most each source's budget (the rest waits). During a [`replay`] the
//!    recorded inputs of the tick replace the live channels.
//! 3. **Run.** Systems run; two overlap only if their bevy_ecs access is compatible and no
//!    explicit order separates them. Conflicting systems run in registration order.
//! 4. **Apply.** Deferred work is applied in registration order: bevy `Commands`, then each
//!    system's private [`EventWriter`] buffer appended to its queue.
//! 5. **Account.** Counters ([`TickStats`]), tick + 1.
//!
//! So everything a system reads in tick N was produced before tick N began, every event is
//! readable during exactly one tick, and [`EventReader`]s are zero-copy slices.
//!
//! ```
//! use tickbus::prelude::*;
//!
//! #[derive(Debug, Clone, Copy, PartialEq)]
//! struct Jump(u32);
//!
//! #[derive(Resource, Default)]
//! struct Jumps(Vec<(u64, u32)>);
//!
//! fn count(jumps: EventReader<Jump>, time: Res<Time>, mut seen: ResMut<Jumps>) {
//!     seen.0.extend(jumps.iter().map(|jump| (time.tick(), jump.0)));
//! }
//!
//! fn echo(jumps: EventReader<Jump>, mut out: EventWriter<Jump>) {
//!     out.send_batch(jumps.iter().map(|jump| Jump(jump.0 + 100)));
//! }
//!
//! let mut app = App::new();
//! let input = app.add_source::<Jump>(SourceConfig::unbounded());
//! app.init_resource::<Jumps>().add_system(count).add_system(echo);
//! let mut engine = app.build()?;
//!
//! input.send(Jump(1))?;
//! engine.run_ticks(3)?;
//! // Collected in tick 0; echoed by a writer, so readable in tick 1; nothing after.
//! assert_eq!(engine.world().resource::<Jumps>().0, vec![(0, 1), (1, 101), (2, 201)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Beyond the core
//!
//! * [`timer`]: one-shot and repeating timers scheduled from systems, delivered as typed
//!   events; cost independent of the number of pending timers.
//! * [`physics`]: 2D bodies and colliders (glam), a grid broadphase, contact started / ended
//!   and left-bounds events in a thread-count-independent order.
//! * [`replay`]: scenarios in RON: record inputs with their tick, replay headless, verify state
//!   hashes at checkpoints and report the first divergent tick and component.
//! * [`ComputePool`]: data-parallel loops inside systems on the engine's own threads.
//!
//! ## Unsafe code
//!
//! All of it is in one module, `ecs_unsafe`: the system-parameter impls of the queues, and the
//! shared world of the parallel executor, which checks at run time that no two systems with
//! conflicting access overlap.

#![deny(unsafe_code)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

mod app;
mod compute;
#[allow(unsafe_code)]
mod ecs_unsafe;
mod engine;
mod error;
mod ingest;
mod queue;
pub mod replay;
pub mod schedule;
mod source;
mod stats;
mod time;

pub use app::{App, DEFAULT_TICK_RATE, Plugin};
pub use compute::{ComputePool, PARALLEL_MIN_WORK};
pub use engine::{Engine, FrameReport};
pub use error::{BuildError, TickError};
pub use ingest::{InputSource, SourceFeed, SourceTap, SourceTickStats};
pub use queue::{EventQueue, EventReader, EventWriter, QueueTickStats, QueueTotals};
pub use schedule::{ExecutorKind, IntoSystemConfig, ParallelConfig, SchedulePlan};
pub use source::{BatchStop, EventSender, SendBatchError, SendError, SourceConfig, TrySendError};
pub use source::{physics, timer};
pub use stats::TickStats;
pub use time::{
    Clock, DEFAULT_MAX_TICKS_PER_FRAME, FixedStep, MAX_TICK_LENGTH, ManualClock, RealClock,
    StepPlan, Time,
};

/// bevy_ecs, as tickbus uses it (so users need no version of their own).
pub use bevy_ecs;

/// An event type: any `Send + Sync + 'static` value.
pub trait Event: Send + Sync + 'static {}

impl<T: Send + Sync + 'static> Event for T {}

/// What most users import: the tickbus builder and params, and bevy_ecs's prelude.
pub mod prelude {
    pub use crate::physics::{Body, Collider, PhysicsPlugin};
    pub use crate::replay::{SimRng, SimSeed};
    pub use crate::timer::{TimerAppExt, TimerFired, TimerHandle, Timers};
    pub use crate::{
        App, Clock, Engine, EventReader, EventSender, EventWriter, ExecutorKind, FixedStep,
        IntoSystemConfig, ManualClock, Plugin, RealClock, SourceConfig, Time,
    };
    pub use bevy_ecs::prelude::{
        Commands, Component, Entity, Local, NonSend, NonSendMut, Query, Res, ResMut, Resource,
        With, Without, World,
    };
}

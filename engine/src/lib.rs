//! # tickbus
//!
//! A fixed-timestep ECS event bus on [`bevy_ecs`]: events are never lost, independent
//! systems run in parallel on the engine's worker threads only when that pays, and runs are
//! identical for any number of threads.
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
//!    explicit order separates them. Conflicting systems run in registration order. A system
//!    that spawns entities runs alone among the `Commands` users (declare it with
//!    `.in_set(`[`Spawners`]`)` where nothing else orders it), so entity ids never depend on
//!    thread timing. A failing system does not stop the others.
//! 4. **Apply.** Deferred work is applied system by system in registration order (before
//!    each exclusive system too, for the systems before it). Within one system, each
//!    parameter's buffer is applied in the order of its signature: its bevy `Commands` queue
//!    and its private [`EventWriter`] buffer (appended to the event's queue) in whichever
//!    order they are declared, so `fn a(out: EventWriter<E>, commands: Commands)` appends
//!    its own events before the events its commands send.
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
//! fn count(jumps: EventReader<Jump>, time: Res<SimTime>, mut seen: ResMut<Jumps>) {
//!     seen.0.extend(jumps.iter().map(|jump| (time.tick(), jump.0)));
//! }
//!
//! fn echo(jumps: EventReader<Jump>, mut out: EventWriter<Jump>) {
//!     out.send_batch(jumps.iter().map(|jump| Jump(jump.0 + 100)));
//! }
//!
//! let mut app = App::new();
//! let input = app.add_source::<Jump>(SourceConfig::unbounded());
//! app.init_resource::<Jumps>().add_systems((count, echo));
//! let mut engine = app.build()?;
//!
//! input.send(Jump(1))?;
//! engine.run_ticks(3)?;
//! // Collected in tick 0; echoed by a writer, so readable in tick 1; nothing after.
//! assert_eq!(engine.world().resource::<Jumps>().0, vec![(0, 1), (1, 101), (2, 201)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Coming from bevy
//!
//! Systems, queries, resources, `Commands` and the scheduling vocabulary are bevy_ecs's own
//! (re-exported by [`prelude`], which can be glob-imported next to `bevy_ecs::prelude::*`).
//! What differs is what tickbus adds around them:
//!
//! | bevy | tickbus |
//! |---|---|
//! | `app.add_systems(FixedUpdate, systems)` | [`app.add_systems(systems)`](App::add_systems): every system runs once per fixed tick |
//! | `app.add_systems(Startup, systems)` | [`app.add_startup_systems(systems)`](App::add_startup_systems): once, before tick 0 |
//! | `configure_sets`, `#[derive(SystemSet)]`, `.chain()`, `.after()`, `.run_if()` | the same traits, read into tickbus's graph; conflicting systems that no order separates run in registration order instead of an arbitrary one |
//! | `Schedule` and its executors | one engine-owned schedule per app; [`ExecutorKind`] picks the parallel executor (engine-owned worker threads, offloading only when it pays) or the sequential one; [`Engine::schedule_plan`] prints what runs together and why |
//! | `Commands::spawn` in any system | the same, but a system that spawns while another `Commands` user may run beside it is declared with `.in_set(`[`Spawners`]`)`, so entity ids do not depend on thread timing |
//! | `Messages<M>`, `MessageWriter`, `MessageReader`, `on_message` | [`EventQueue<T>`], [`EventWriter`], [`EventReader`], [`on_event`] (see "Events" below) |
//! | `Time<Fixed>` read in `FixedUpdate` | [`SimTime`]: integer tick and fixed `dt`, `delta_secs()` / `elapsed_secs()` as in bevy |
//! | `Time<Fixed>`'s accumulator, `overstep_fraction` | [`FixedStep`] with the interpolation alpha ([`FrameReport::alpha`]), pause, single step, time scale, the spiral-of-death clamp |
//! | `App::update` | [`Engine::tick`] (headless), [`Engine::frame`] / [`Engine::run`] (real time) |
//! | a bevy `App` | the `tickbus_bevy` crate of this workspace runs an engine inside one, copying chosen state to bevy's world every frame |
//!
//! ## Events
//!
//! tickbus's "events" are the buffered, tick-stamped kind: what bevy 0.17+ calls *messages*
//! (bevy now uses `Event` for observer-triggered events). tickbus keeps its own names because
//! its queues promise more than bevy's `Messages` do, and reusing bevy's names for other
//! semantics is what confused users in the first place: an event written in tick N is
//! readable during exactly tick N + 1 by every reader (never dropped after two updates, never
//! seen twice, no cursors), writers never conflict and are merged in registration order, and
//! channel sources feed the same queues from any thread. The bound on event types is
//! [`Event`], blanket-implemented for every `Send + Sync + 'static` type (no derive needed);
//! it is deliberately not in the prelude, so bevy's `Event` (observers) keeps its meaning
//! there. Code holding `&mut World` sends with [`WorldEventsExt::send_event`].
//!
//! Readers that reduce many events to a little state (counts, sums, histograms, filters) can
//! be event folds instead of reader systems ([`App::add_event_fold`]): the folds of one event
//! type run together over cache-sized chunks, spread over the engine's threads when that
//! pays, so the folds stream a tick of a million events from memory once however many there
//! are, and their results are merged in chunk order: the same on any number of threads for
//! folds that depend on their chunk only.
//!
//! ## Beyond the core
//!
//! * Startup systems ([`App::add_startup_systems`]), set run conditions and [`on_event`]: see
//!   [`App::add_systems`] for how run conditions are evaluated.
//! * [`timer`]: one-shot and repeating timers scheduled from systems, delivered as typed
//!   events; cost independent of the number of pending timers.
//! * [`physics`]: 2D bodies and colliders (glam), a grid broadphase, contact started / ended
//!   and left-bounds events in a thread-count-independent order.
//! * [`replay`]: scenarios in RON: record inputs with their tick, replay headless, verify state
//!   hashes at checkpoints and report the first divergent tick and component.
//! * [`ComputePool`]: data-parallel loops inside systems on the engine's own threads.
//!
//! Spawning, deferred work and what a failing tick keeps are described in [`schedule`].
//!
//! ## Unsafe code
//!
//! Three small modules, each beside the safe API it serves: the system-parameter impls of
//! the queues (`queue/params.rs`); the parallel executor's shared world
//! (`schedule/shared_world.rs`), which lends each system to at most one thread per step and
//! checks before every run that the system belongs to the world, may run on that thread and
//! that no system whose data access conflicts with it is running; and the worker threads
//! (`schedule/workers.rs`), which hand a borrowed task to helpers and withdraw it, waiting for
//! every helper to leave, before the borrow ends.

#![deny(unsafe_code)]
#![warn(missing_debug_implementations)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

// So are the examples of the rules for deterministic games.
#[cfg(doctest)]
#[doc = include_str!("../../DETERMINISM.md")]
struct DeterminismDoctests;

mod app;
mod carry;
mod compute;
mod engine;
mod error;
mod ingest;
pub mod math;
mod queue;
pub mod replay;
pub mod schedule;
mod source;
mod stats;
mod time;
mod trace;

pub use app::{App, DEFAULT_TICK_RATE, Plugin};
pub use compute::{ComputePool, PARALLEL_MIN_WORK};
pub use engine::{Engine, FrameReport};
pub use error::{BuildError, TickError};
pub use ingest::{InputSource, SourceFeed, SourceTap, SourceTickStats};
pub use queue::{
    EventFoldSystems, EventQueue, EventReader, EventWriter, FOLD_CHUNK_BYTES, QueueTickStats,
    QueueTotals, WRITE_FOLD_MIN_BYTES, WorldEventsExt, fold_chunk_len, on_event,
};
pub use schedule::{
    ExecutorKind, OffloadPolicy, ParallelConfig, SchedulePlan, Spawners, SystemRun,
};
pub use source::{BatchStop, EventSender, SendBatchError, SendError, SourceConfig, TrySendError};
pub use source::{physics, timer};
pub use stats::{ExecutorTotals, TickStats};
pub use time::{
    Clock, DEFAULT_MAX_TICKS_PER_FRAME, FixedStep, MAX_TICK_LENGTH, ManualClock, RealClock,
    SimTime, StepPlan,
};
pub use trace::{ChromeTrace, TraceArgs, TraceEvent};

/// bevy_ecs, as tickbus uses it (so users need no version of their own).
pub use bevy_ecs;

/// glam 0.33, the version bevy_math 0.20 re-exports: `tickbus::glam::Vec3` is a bevy app's
/// `Vec3`.
pub use glam;

/// The bound on event types: any `Send + Sync + 'static` value is an event (no derive).
///
/// Not bevy's `Event` (observer-triggered events since bevy 0.17) and not in the prelude, so
/// glob imports of both preludes keep bevy's meaning; see the crate docs, "Events".
pub trait Event: Send + Sync + 'static {}

impl<T: Send + Sync + 'static> Event for T {}

/// What most users import: the tickbus builder and params, and what bevy_ecs's prelude offers
/// for systems, queries and scheduling.
///
/// It can be glob-imported together with `bevy_ecs::prelude::*` (the items both export are
/// the same items). It also brings `bevy_ecs` itself into scope, which is what makes
/// `#[derive(Component)]`, `#[derive(Resource)]` and `#[derive(SystemSet)]` work in a crate
/// whose only dependency is tickbus: bevy's derives expand to paths starting with `bevy_ecs::`
/// when the crate's manifest names no bevy crate. A crate that imports items one by one
/// instead of the glob needs that name too:
///
/// ```
/// use tickbus::bevy_ecs; // the derives below expand to `bevy_ecs::…` paths
/// use tickbus::prelude::{Component, Resource};
///
/// #[derive(Component)]
/// struct Health(u32);
///
/// #[derive(Resource)]
/// struct Wave(u32);
/// # let _ = (Health(1).0, Wave(1).0);
/// ```
pub mod prelude {
    pub use crate::bevy_ecs;
    pub use crate::physics::{Body, Collider, PhysicsPlugin, PhysicsSet, entity_order};
    pub use crate::replay::{SimRng, SimSeed};
    pub use crate::timer::{TimerAppExt, TimerFired, TimerHandle, Timers};
    pub use crate::{
        App, Clock, Engine, EventFoldSystems, EventReader, EventSender, EventWriter, ExecutorKind,
        FixedStep, ManualClock, Plugin, RealClock, SimTime, SourceConfig, Spawners, WorldEventsExt,
        on_event,
    };
    pub use bevy_ecs::prelude::{
        Added, AnyOf, Bundle, Changed, Commands, Component, Deferred, DetectChanges,
        DetectChangesMut, Entity, EntityCommands, EntityMut, EntityRef, EntityWorldMut, FromWorld,
        Has, In, IntoScheduleConfigs, IntoSystem, IntoSystemSet, Local, Mut, Name, NonSend,
        NonSendMut, Or, ParamSet, Populated, Query, Ref, RemovedComponents, Res, ResMut, Resource,
        Single, SystemCondition, SystemSet, With, Without, World,
    };
    pub use bevy_ecs::schedule::common_conditions::*;
}

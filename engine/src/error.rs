//! Errors of building an engine and of running a tick.

/// Why [`App::build`](crate::App::build) refused to build an engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Explicit `after` / `before` orders form a cycle; the systems on it, in order.
    #[error("the explicit system orders form a cycle: {}", cycle_text(.systems))]
    Cycle {
        /// The systems on the cycle; each runs after the one before it.
        systems: Vec<String>,
    },
    /// An `after` / `before` / `chain` order names a system that was never added (orders
    /// against an empty named set are fine, as in bevy).
    #[error("{system} is ordered against {target}, which was never added")]
    UnknownOrderTarget {
        /// The node with the order (`system name` or `set Name`).
        system: String,
        /// The missing system, as bevy names it.
        target: String,
    },
    /// An `after` / `before` order names a function whose type is shared by several systems
    /// (closures returned by one function, say), so it is unclear which one is meant (bevy
    /// refuses this too). Order against a named set instead.
    #[error(
        "{system} is ordered against {target}, but {count} systems have that type; order \
         against a named set instead"
    )]
    AmbiguousOrderTarget {
        /// The node with the order (`system name` or `set Name`).
        system: String,
        /// The system type, as bevy names it.
        target: String,
        /// How many systems have that type.
        count: usize,
    },
    /// A system or set is ordered against a set that contains it, for example
    /// `a.in_set(S).after(S)`: the order cannot hold (bevy refuses this too).
    #[error("{node} is ordered against {set}, which contains it")]
    OrderedAgainstOwnSet {
        /// The contained node (`system name` or `set Name`).
        node: String,
        /// The set containing it.
        set: String,
    },
    /// Two sets are ordered one before the other but share a system, which cannot run
    /// before itself (bevy refuses this too).
    #[error("{before} is ordered before {after}, but {system} is in both")]
    OrderedSetsOverlap {
        /// The node ordered first.
        before: String,
        /// The node ordered second.
        after: String,
        /// A system in both.
        system: String,
    },
    /// bevy refused to initialize a system, for example because two of its own parameters
    /// conflict (`Query<&mut A>` twice, `ResMut<R>` beside `Res<R>`).
    #[error("system {system} cannot be initialized: {message}")]
    InvalidSystem {
        /// The system's name.
        system: String,
        /// bevy's explanation.
        message: String,
    },
    /// A set contains itself through `configure_sets(A.in_set(B))` chains.
    #[error("the system sets contain each other in a cycle: {detail}")]
    SetCycle {
        /// The sets on the cycle, as bevy reports them.
        detail: String,
    },
    /// The tick length is zero (also from a tick rate above 10⁹ per second).
    #[error("the tick length must be at least 1 ns (a tick rate of at most 1,000,000,000)")]
    ZeroTickLength,
    /// The tick length is longer than [`MAX_TICK_LENGTH`](crate::MAX_TICK_LENGTH).
    #[error(
        "a tick length of {length:?} is longer than the maximum of {:?}",
        crate::MAX_TICK_LENGTH
    )]
    TickLengthTooLong {
        /// The tick length asked for.
        length: std::time::Duration,
    },
    /// [`ParallelConfig::threads`](crate::ParallelConfig::threads) is 0 or more than
    /// [`MAX_THREADS`](crate::schedule::MAX_THREADS).
    #[error(
        "the parallel executor runs on 1 to {} threads, not {threads}",
        crate::schedule::MAX_THREADS
    )]
    ThreadCount {
        /// The thread count asked for.
        threads: usize,
    },
    /// [`ParallelConfig::spin`](crate::ParallelConfig::spin) is longer than
    /// [`MAX_SPIN`](crate::schedule::MAX_SPIN).
    #[error(
        "a worker spin of {spin:?} is longer than the maximum of {:?}",
        crate::schedule::MAX_SPIN
    )]
    SpinTooLong {
        /// The spin asked for.
        spin: std::time::Duration,
    },
    /// A run condition (of a system or of a set) has deferred buffers (`Commands`, an
    /// [`EventWriter`](crate::EventWriter), any `Deferred<T>`). A condition decides whether
    /// systems run; it may not change the world, and work it deferred would have no place in
    /// the tick's registration order.
    #[error(
        "the run condition {condition} of {owner} has deferred buffers (Commands, EventWriter, \
         Deferred); run conditions may only read: move that work into a system"
    )]
    DeferredCondition {
        /// The condition's name.
        condition: String,
        /// What it gates: `system name` or `set Name`.
        owner: String,
    },
    /// The worker threads could not be started.
    #[error("could not start the engine's worker threads: {0}")]
    ThreadPool(#[from] std::io::Error),
}

fn cycle_text(systems: &[String]) -> String {
    let mut text = systems.join(" -> ");
    if let Some(first) = systems.first() {
        text.push_str(" -> ");
        text.push_str(first);
    }
    text
}

/// Why a tick ended with an error. The tick still ended: every other system ran, deferred
/// work was applied and the tick counter advanced, so the engine stays consistent and can be
/// inspected, run further or dropped. When several systems fail in one tick, the error names
/// the one with the lowest registration index, on every executor (see the
/// [`schedule`](crate::schedule) module for what of a failing system's work is kept).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TickError {
    /// A system (or one of its run conditions) panicked.
    #[error("system {system} panicked in tick {tick}: {message}")]
    SystemPanicked {
        /// The system's name.
        system: String,
        /// The tick it panicked in.
        tick: u64,
        /// The panic message.
        message: String,
    },
    /// A system returned an error, or a parameter of it was invalid (for example a missing
    /// resource).
    #[error("system {system} failed in tick {tick}: {message}")]
    SystemFailed {
        /// The system's name.
        system: String,
        /// The tick it failed in.
        tick: u64,
        /// The error.
        message: String,
    },
    /// Applying a system's deferred work (its `Commands`) panicked.
    #[error("applying the commands of system {system} panicked in tick {tick}: {message}")]
    CommandsPanicked {
        /// The system's name.
        system: String,
        /// The tick.
        tick: u64,
        /// The panic message.
        message: String,
    },
    /// A system spawned entities (allocated entity ids while running) although it may run at
    /// the same time as another system with `Commands`, so its ids could depend on thread
    /// timing. Declare it a spawner: `.in_set(`[`Spawners`](crate::Spawners)`)`.
    #[error(
        "system {system} spawned {entities} entities in tick {tick} but may run at the same time \
         as other systems with Commands, so their ids could depend on thread timing; declare it \
         with `.in_set(Spawners)`"
    )]
    UndeclaredSpawn {
        /// The system's name.
        system: String,
        /// The tick.
        tick: u64,
        /// Entities it spawned that tick.
        entities: u32,
    },
    /// Entity ids were allocated while systems ran that may run at the same time as other
    /// systems with `Commands`, so the ids could depend on thread timing, and applying their
    /// commands did not show which system took them: one spawned and despawned the same
    /// entity in one command queue, or allocated through bevy's `EntityAllocator` parameter
    /// (see [`schedule`](crate::schedule#spawning)). `systems` are the suspects: the systems of
    /// that step with `Commands` that may not spawn, in registration order.
    #[error(
        "{entities} entity ids were allocated in tick {tick} where no system may allocate, and no \
         system's commands show them (a spawn despawned in the same command queue, or an \
         EntityAllocator parameter): the systems that could have are {}; declare the spawner \
         with `.in_set(Spawners)`",
        .systems.join(", ")
    )]
    UnattributedSpawn {
        /// The suspects, in registration order.
        systems: Vec<String>,
        /// The tick.
        tick: u64,
        /// Entity ids allocated that tick that no system may take.
        entities: u32,
    },
}

impl TickError {
    /// The system the error names (for [`TickError::UnattributedSpawn`], the first suspect).
    pub fn system(&self) -> &str {
        match self {
            TickError::SystemPanicked { system, .. }
            | TickError::SystemFailed { system, .. }
            | TickError::CommandsPanicked { system, .. }
            | TickError::UndeclaredSpawn { system, .. } => system,
            TickError::UnattributedSpawn { systems, .. } => {
                systems.first().map_or("", String::as_str)
            }
        }
    }

    /// The tick the error happened in.
    pub fn tick(&self) -> u64 {
        match self {
            TickError::SystemPanicked { tick, .. }
            | TickError::SystemFailed { tick, .. }
            | TickError::CommandsPanicked { tick, .. }
            | TickError::UndeclaredSpawn { tick, .. }
            | TickError::UnattributedSpawn { tick, .. } => *tick,
        }
    }
}

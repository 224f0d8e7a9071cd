//! The system graph and its executors.
//!
//! Systems are bevy_ecs systems, configured with bevy's own vocabulary (see
//! [`App::add_systems`](crate::App::add_systems)). Their access comes from
//! `System::initialize`; every pair whose access conflicts gets an edge in registration order
//! unless an explicit order already orders it, so nothing is ever ambiguous and every executor
//! produces the sequential executor's results.
//!
//! # Spawning
//!
//! bevy gives out an entity id the moment `Commands::spawn` is called, from one shared
//! allocator, so two systems spawning at the same time would get ids that depend on thread
//! timing. A system may therefore allocate ids while it runs only when no other system with
//! deferred buffers (`Commands`) may run beside it: when the schedule orders it against all of
//! them anyway, or when it is declared a member of [`Spawners`] (`.in_set(Spawners)`),
//! which adds that order ([`EdgeReason::SpawnOrder`]). Systems that use `Commands` to insert, remove or despawn run in
//! parallel freely. A system that spawns where it may not fails the tick with
//! [`TickError::UndeclaredSpawn`](crate::TickError::UndeclaredSpawn) naming it, on every
//! executor alike. (Queuing a closure that spawns,
//! `commands.queue(|world: &mut World| { world.spawn(..); })`, allocates when deferred work is
//! applied, in registration order, and needs no declaration.) When the ids a step allocated
//! cannot be traced to one system's commands (it spawned and despawned the same entity in one
//! queue, say), the tick fails with
//! [`TickError::UnattributedSpawn`](crate::TickError::UnattributedSpawn), which lists the
//! systems that could have spawned instead of guessing one.
//!
//! Run conditions, of systems and of sets, may not have deferred buffers (`Commands`, an
//! [`EventWriter`](crate::EventWriter)): bevy accepts `fn cond(mut commands: Commands) ->
//! bool`, but a condition's deferred work has no place in the tick's order, so the app refuses
//! to build ([`BuildError::DeferredCondition`]).
//!
//! Two ways around the spawn check are not caught, and make ids depend on thread timing:
//!
//! * **bevy's `&EntityAllocator` parameter.** It allocates ids through a read-only borrow, with
//!   no deferred buffer, so nothing orders a system that uses it against others, and an id it
//!   takes where no system may allocate can only be reported as unattributable, if the step
//!   counts ids at all. Spawn with `Commands` instead, or allocate in an exclusive system.
//! * **Spawning from several threads inside one system**: `ParallelCommands`, or `Commands`
//!   used inside a [`ComputePool`] loop. The ids are handed out in the
//!   order the chunks happen to run, and bevy applies `ParallelCommands`' per-thread queues in
//!   thread order. The spawn check sees a declared spawner allocating, which it may. Collect
//!   what to spawn per chunk (`ComputePool::map_chunks` returns results in chunk order) and
//!   spawn it on the system's own thread afterwards.
//!
//! Outside those two, ids are never silently thread-dependent.
//!
//! # Change ticks
//!
//! bevy's change-tick *values* (`SystemChangeTick`, `Ref::last_changed`, `Tick` numbers) count
//! system runs, so they depend on the order in which systems happened to start, which on the
//! parallel executor depends on threads. Change *detection* (`Changed<T>`, `is_changed`,
//! `resource_changed`) does not: systems that conflict are always ordered the same way. Use
//! detection freely, but keep tick values out of simulation state.
//!
//! # Deferred work
//!
//! `Commands` and [`EventWriter`](crate::EventWriter) buffers are applied in registration
//! order at the end of the tick, and also before every exclusive system (for everything that
//! ran since the previous one), so an exclusive system sees the commands of the systems before
//! it, as in bevy. Events written by a writer become readable in the next tick either way.
//!
//! # Failures
//!
//! A system that panics or returns an error (or whose run condition does) does not stop the
//! tick: every other system still runs, in the same order, and sees the same data on every
//! executor. What the failing system did before it failed is kept: its changes to the world,
//! its events (readable in the next tick, as always) and its `Commands` (applied like any
//! other system's). A command that panics while being applied is reported too; the rest of
//! that system's command queue is dropped (bevy's behaviour), but its events are still
//! applied in that tick. Of all failures of a tick, the one reported is the system with the
//! lowest registration index (its run before its deferred work), so a crash is the same crash
//! on any executor and thread count.
//!
//! A panic can leave a user's own `std::sync::Mutex` poisoned: tickbus neither sees nor
//! clears it, so later ticks get `PoisonError` from `lock()`. Data behind it holds whatever the
//! panicking system left there; recover with `PoisonError::into_inner` if that is acceptable,
//! or prefer resources (`ResMut`), which a panic never poisons.

mod adaptive;
#[cfg(test)]
mod api_tests;
pub(crate) mod bitset;
pub(crate) mod config;
mod flatten;
mod graph;
pub(crate) mod node;
mod parallel;
mod plan;
mod sequential;
#[allow(unsafe_code)]
mod shared_world;
mod spawns;
#[allow(unsafe_code)]
pub(crate) mod workers;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bevy_ecs::world::World;

pub use config::Spawners;
pub use graph::{Edge, EdgeReason};
pub use node::SystemTiming;
pub use parallel::{
    DEFAULT_OFFLOAD_MIN, DEFAULT_SPIN, MAX_SPIN, MAX_THREADS, OffloadPolicy, ParallelConfig,
};
pub use plan::{PlannedSystem, SchedulePlan};

pub(crate) use parallel::ParallelExecutor;
pub(crate) use sequential::SequentialExecutor;

use crate::{BuildError, ComputePool};
use config::SystemsConfig;
use flatten::SetGate;
use graph::{Graph, SharedStep, Step};
use node::{NodeFault, SystemNode};
use shared_world::{AccessGuard, ScheduleId};

/// One run of a system, recorded while system tracing is on
/// ([`Engine::set_system_tracing`](crate::Engine::set_system_tracing)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemRun {
    /// The system's registration index.
    pub system: usize,
    /// The system's name.
    pub name: String,
    /// When it started, since the origin given to
    /// [`Engine::take_system_runs`](crate::Engine::take_system_runs).
    pub start: Duration,
    /// How long it ran (for systems run back to back on one thread, from the previous one's
    /// end: one clock reading serves both).
    pub duration: Duration,
    /// The thread it ran on: a small number, the same for a thread's whole life.
    pub thread: usize,
}

/// Which executor runs the systems of each tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Every system on the calling thread, in run order: the reference.
    Sequential,
    /// Independent systems overlap on engine-owned worker threads when that pays.
    Parallel(ParallelConfig),
}

impl Default for ExecutorKind {
    fn default() -> Self {
        ExecutorKind::Parallel(ParallelConfig::default())
    }
}

impl ExecutorKind {
    /// The parallel executor with `threads` threads (the driving thread included; 0 counts as
    /// 1, more than [`MAX_THREADS`] is refused when the app is built) and default settings
    /// otherwise.
    pub fn parallel(threads: usize) -> Self {
        ExecutorKind::Parallel(ParallelConfig {
            threads: threads.max(1),
            ..ParallelConfig::default()
        })
    }

    /// The parallel executor with `threads` threads that hands every system it can to its
    /// workers ([`OffloadPolicy::Always`]): for tests that must see systems overlap.
    pub fn forced_parallel(threads: usize) -> Self {
        ExecutorKind::Parallel(ParallelConfig {
            threads: threads.max(1),
            policy: OffloadPolicy::Always,
            ..ParallelConfig::default()
        })
    }

    pub(crate) fn build(self) -> Result<Box<dyn Executor>, BuildError> {
        Ok(match self {
            ExecutorKind::Sequential => Box::new(SequentialExecutor),
            ExecutorKind::Parallel(config) => Box::new(ParallelExecutor::new(config)?),
        })
    }
}

/// When in a tick a system failed: while running, or while its deferred work was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Run,
    Apply,
}

/// A system that did not finish normally (registration index, when, and what happened).
#[derive(Debug)]
pub(crate) struct FailedSystem {
    pub(crate) index: usize,
    pub(crate) phase: Phase,
    pub(crate) fault: NodeFault,
}

impl FailedSystem {
    fn order(&self) -> (usize, Phase) {
        (self.index, self.phase)
    }
}

/// The failure a tick reports: of all, the lowest registration index (a run before an apply),
/// which does not depend on which thread saw which failure first.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    first: Option<FailedSystem>,
}

impl Failures {
    pub(crate) fn record(&mut self, failed: FailedSystem) {
        if self
            .first
            .as_ref()
            .is_none_or(|first| failed.order() < first.order())
        {
            self.first = Some(failed);
        }
    }

    pub(crate) fn take(&mut self) -> Option<FailedSystem> {
        self.first.take()
    }
}

/// How the systems of a tick ran: how many on worker threads, and how many at most at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunCounters {
    pub(crate) on_workers: usize,
    pub(crate) peak_running: usize,
}

/// One shared step handed to an executor.
pub(crate) struct StepRun<'a> {
    pub(crate) nodes: &'a mut [SystemNode],
    pub(crate) step: &'a SharedStep,
    /// The step's position in the schedule (for per-step state an executor keeps).
    pub(crate) step_index: usize,
    pub(crate) world: &'a mut World,
    pub(crate) guard: &'a AccessGuard,
    pub(crate) sampling_tick: bool,
}

/// Runs the systems of the shared steps (not their deferred work: the schedule applies that).
pub(crate) trait Executor: Send {
    /// Runs every system of the step, also after one failed; returns the step's failures.
    fn run_step(&mut self, run: StepRun<'_>, counters: &mut RunCounters) -> Failures;

    /// Threads that run systems, the driving thread included.
    fn threads(&self) -> usize;

    /// The threads systems may use for data-parallel loops.
    fn compute_pool(&self) -> ComputePool {
        ComputePool::default()
    }
}

/// The systems of an engine with their graph.
pub(crate) struct Schedule {
    pub(crate) nodes: Vec<SystemNode>,
    pub(crate) graph: Graph,
    guard: AccessGuard,
    /// The run conditions of sets, reset before every tick.
    gates: Vec<Arc<SetGate>>,
    /// This tick times every system (see [`SystemTiming`]).
    sampling_tick: bool,
    /// Ids that the last checked step allocated beyond what its spawners account for, in
    /// case applying its deferred work does not show who took them.
    unexplained_spawns: Option<UnexplainedSpawns>,
}

/// Entity ids a step allocated that no system of it may take, and the systems that could
/// have (registration order).
#[derive(Debug)]
struct UnexplainedSpawns {
    entities: u32,
    suspects: Vec<usize>,
}

impl Schedule {
    pub(crate) fn build(config: SystemsConfig, world: &mut World) -> Result<Self, BuildError> {
        let flat = config.flatten()?;
        let gates = flat
            .gates
            .into_iter()
            .map(|gate| initialize_gate(gate, world))
            .collect::<Result<Vec<_>, _>>()?;
        let mut nodes = flat
            .systems
            .into_iter()
            .enumerate()
            .map(|(index, system)| SystemNode::initialize(system, index, &gates, world))
            .collect::<Result<Vec<_>, _>>()?;
        let graph = Graph::build(&nodes, &flat.orders, world)?;
        mark_spawn_counting(&mut nodes, &graph);
        let id = ScheduleId::unique();
        for node in &mut nodes {
            node.schedule = Some(id);
        }
        let guard = AccessGuard::new(id, graph.conflicts.clone());
        Ok(Self {
            nodes,
            graph,
            guard,
            gates: gates.into_iter().map(|(gate, ..)| gate).collect(),
            sampling_tick: true,
            unexplained_spawns: None,
        })
    }

    /// Runs the systems of tick `tick` with `executor` and applies their deferred work.
    /// Returns the tick's reported failure, if any (see the module docs).
    pub(crate) fn run_tick(
        &mut self,
        executor: &mut dyn Executor,
        world: &mut World,
        tick: u64,
        counters: &mut RunCounters,
    ) -> Option<FailedSystem> {
        self.begin_tick(tick);
        let mut failures = Failures::default();
        for step_index in 0..self.graph.steps.len() {
            match &self.graph.steps[step_index] {
                Step::Shared(_) => self.run_shared(executor, step_index, world, counters),
                Step::Exclusive { index, apply_first } => {
                    let index = *index;
                    apply_listed(
                        &mut self.nodes,
                        apply_first,
                        world,
                        &mut failures,
                        &mut self.unexplained_spawns,
                    );
                    self.run_exclusive(index, world, counters)
                }
            }
            .into_iter()
            .for_each(|failed| failures.record(failed));
        }
        apply_listed(
            &mut self.nodes,
            &self.graph.apply_last,
            world,
            &mut failures,
            &mut self.unexplained_spawns,
        );
        failures.take()
    }

    /// Called before the systems of tick `tick` run: whether it is a sampling tick, and no set
    /// condition evaluated yet.
    fn begin_tick(&mut self, tick: u64) {
        self.sampling_tick = tick.is_multiple_of(node::SAMPLE_EVERY);
        for gate in &self.gates {
            gate.reset();
        }
    }

    /// Runs every system once on the calling thread, in run order, applying each one's
    /// deferred work (Commands, event writes) right after it: startup systems, which run once
    /// before the first tick, so a later startup system sees what an earlier one spawned.
    /// Failures are handled as in a tick (see the module docs): every system runs, a failing
    /// one's deferred work is still applied, and the failure reported is the one with the
    /// lowest registration index (nothing runs in parallel here, so it is the same failure
    /// on every executor).
    pub(crate) fn run_once_applying(&mut self, world: &mut World) -> Result<(), FailedSystem> {
        self.begin_tick(0);
        let mut failures = Failures::default();
        for &index in &self.graph.order {
            let node = &mut self.nodes[index];
            let mut record = |phase, fault| {
                failures.record(FailedSystem {
                    index,
                    phase,
                    fault,
                })
            };
            if let Err(fault) = node.run_with_world(world) {
                record(Phase::Run, fault);
            }
            if let Err(fault) = apply_node(node, world) {
                record(Phase::Apply, fault);
            }
        }
        failures.take().map_or(Ok(()), Err)
    }

    fn run_shared(
        &mut self,
        executor: &mut dyn Executor,
        step_index: usize,
        world: &mut World,
        counters: &mut RunCounters,
    ) -> Option<FailedSystem> {
        let Step::Shared(step) = &self.graph.steps[step_index] else {
            unreachable!("run_shared is called for shared steps");
        };
        let before = step
            .checks_spawns
            .then(|| spawns::allocations(world.entity_allocator()))
            .flatten();
        let run = StepRun {
            nodes: &mut self.nodes,
            step,
            step_index,
            world,
            guard: &self.guard,
            sampling_tick: self.sampling_tick,
        };
        let failed = executor.run_step(run, counters).take();
        if before.is_some() {
            let extra = spawns::unaccounted(before, world, &self.nodes, &step.nodes);
            self.suspect_spawners(step_index, extra);
        }
        failed
    }

    /// After a step allocated `extra` ids nobody may have: every system of it that could
    /// have (deferred buffers, not allowed to allocate) is looked at when its deferred work is
    /// applied. A system without deferred buffers is never suspected: it has no `Commands` to
    /// spawn with.
    fn suspect_spawners(&mut self, step_index: usize, extra: u32) {
        let Step::Shared(step) = &self.graph.steps[step_index] else {
            return;
        };
        if extra == 0 {
            return;
        }
        let mut suspects = Vec::new();
        for &index in &step.nodes {
            let node = &mut self.nodes[index];
            if node.has_deferred && !node.may_spawn {
                node.suspect = true;
                suspects.push(index);
            }
        }
        suspects.sort_unstable();
        self.unexplained_spawns = Some(UnexplainedSpawns {
            entities: extra,
            suspects,
        });
    }

    fn run_exclusive(
        &mut self,
        index: usize,
        world: &mut World,
        counters: &mut RunCounters,
    ) -> Option<FailedSystem> {
        counters.peak_running = counters.peak_running.max(1);
        sequential::run_timed(&mut self.nodes[index], world)
            .err()
            .map(|fault| FailedSystem {
                index,
                phase: Phase::Run,
                fault,
            })
    }

    /// Keeps change ticks from wrapping, as bevy's own schedules do.
    pub(crate) fn check_change_ticks(&mut self, world: &mut World) {
        if let Some(check) = world.check_change_ticks() {
            for node in &mut self.nodes {
                node.check_change_ticks(check);
            }
            for gate in &self.gates {
                gate.for_each_condition(|condition| condition.check_change_tick(check));
            }
        }
    }

    pub(crate) fn plan(&self) -> SchedulePlan {
        SchedulePlan::new(&self.nodes, &self.graph)
    }

    /// Turns system tracing on or off for every system.
    pub(crate) fn set_tracing(&mut self, on: bool) {
        for node in &mut self.nodes {
            node.traced = on;
            node.span = None;
        }
    }

    /// The traced runs since the last call, in registration order.
    pub(crate) fn take_runs(&mut self, origin: Instant) -> Vec<SystemRun> {
        self.nodes
            .iter_mut()
            .filter_map(|node| {
                let span = node.span.take()?;
                Some(SystemRun {
                    system: node.index,
                    name: node.name.clone(),
                    start: span.start.saturating_duration_since(origin),
                    duration: span.end - span.start,
                    thread: span.thread,
                })
            })
            .collect()
    }

    pub(crate) fn timings(&self) -> impl Iterator<Item = (&str, SystemTiming)> {
        self.nodes
            .iter()
            .map(|node| (node.name.as_str(), node.timing))
    }
}

#[cfg(test)]
impl Schedule {
    /// A schedule of `systems`, built as an app builds it.
    pub(crate) fn of<M>(
        systems: impl bevy_ecs::schedule::IntoScheduleConfigs<bevy_ecs::system::ScheduleSystem, M>,
        world: &mut World,
    ) -> Self {
        let mut config = SystemsConfig::default();
        config.add_systems(systems);
        Self::build(config, world).expect("a valid schedule")
    }

    /// A schedule of `count` independent systems that do nothing.
    pub(crate) fn of_trivial(count: usize, world: &mut World) -> Self {
        let mut config = SystemsConfig::default();
        for _ in 0..count {
            config.add_systems(|| {});
        }
        Self::build(config, world).expect("a valid schedule")
    }
}

/// Copies the graph's verdict on who may allocate ids into the nodes.
fn mark_spawn_counting(nodes: &mut [SystemNode], graph: &Graph) {
    for step in &graph.steps {
        let Step::Shared(step) = step else { continue };
        for &index in &step.nodes {
            let node = &mut nodes[index];
            node.may_spawn = graph.may_spawn[index];
            node.count_spawns = step.checks_spawns && node.may_spawn;
        }
    }
}

/// Applies the deferred work of the systems in `list` (registration order). Suspected
/// spawners are watched while theirs is applied; a failure is recorded, and the others are
/// still applied.
fn apply_listed(
    nodes: &mut [SystemNode],
    list: &[usize],
    world: &mut World,
    failures: &mut Failures,
    unexplained: &mut Option<UnexplainedSpawns>,
) {
    let mut explained = false;
    for &index in list {
        let node = &mut nodes[index];
        let result = if node.suspect {
            node.suspect = false;
            let (result, spawned) = spawns::apply_watching(node, world, apply_node);
            if spawned > 0 {
                explained = true;
                failures.record(undeclared_spawn(index, spawned));
            }
            result
        } else {
            apply_node(node, world)
        };
        if let Err(fault) = result {
            failures.record(FailedSystem {
                index,
                phase: Phase::Apply,
                fault,
            });
        }
    }
    if let Some(unexplained) = unexplained.take().filter(|_| !explained) {
        failures.record(unattributed_spawn(unexplained));
    }
}

/// Nobody's commands showed the extra ids: the failure says so and lists the suspects,
/// ordered as the lowest of them (so the reported failure is the same on every executor).
fn unattributed_spawn(unexplained: UnexplainedSpawns) -> FailedSystem {
    let UnexplainedSpawns { entities, suspects } = unexplained;
    FailedSystem {
        index: suspects.first().copied().unwrap_or(0),
        phase: Phase::Apply,
        fault: NodeFault::UnattributedSpawn { entities, suspects },
    }
}

fn undeclared_spawn(index: usize, entities: u32) -> FailedSystem {
    FailedSystem {
        index,
        phase: Phase::Apply,
        fault: NodeFault::UndeclaredSpawn { entities },
    }
}

/// bevy stops applying a system's buffers at the first that panics (a failing command): the
/// rest of that command queue is dropped, but buffers after it (its event writers) would wait
/// for the next tick. Applying again flushes them now; a buffer that panics every time is
/// given up after a few rounds.
const APPLY_ROUNDS_AFTER_A_PANIC: usize = 8;

/// Applies one system's deferred work (`Commands`, event writers, …).
fn apply_node(node: &mut SystemNode, world: &mut World) -> Result<(), NodeFault> {
    let mut apply = || {
        node::catch_fault(|| {
            node.system.apply_deferred(world);
            Ok(node::RunOutcome::Ran)
        })
    };
    let fault = match apply() {
        Ok(_) => return Ok(()),
        Err(fault) => fault,
    };
    for _ in 0..APPLY_ROUNDS_AFTER_A_PANIC {
        if apply().is_ok() {
            break;
        }
    }
    Err(fault)
}

/// Initializes the conditions of a set on `world`: the gate, its conditions' access (added to
/// the access of every system of the set) and whether they are all `Send`.
/// A set condition with deferred buffers is refused, as a system's own is
/// ([`node::refuse_deferred_conditions`]).
fn initialize_gate(gate: SetGate, world: &mut World) -> Result<InitializedGate, BuildError> {
    let mut access = Vec::new();
    let mut is_send = true;
    let mut refused = Ok(());
    gate.for_each_condition(|condition| {
        access.push(condition.initialize(world));
        is_send &= condition.is_send();
        if refused.is_ok() {
            refused = node::refuse_deferred_conditions(std::slice::from_ref(condition), || {
                format!("set {}", gate.name)
            });
        }
    });
    refused.map(|()| (Arc::new(gate), access, is_send))
}

/// A set gate with its conditions' access and whether they are all `Send`.
type InitializedGate = (Arc<SetGate>, Vec<bevy_ecs::system::SystemAccess>, bool);

//! The system graph and its executors.
//!
//! Systems are bevy_ecs systems, configured with bevy's own vocabulary (see
//! [`App::add_systems`](crate::App::add_systems)). Their access comes from
//! `System::initialize`; every pair whose access conflicts (or that both use `Commands`, see
//! [`EdgeReason::SpawnOrder`]) gets an edge in registration order unless an explicit order
//! already orders it, so nothing is ever ambiguous and every executor produces the sequential
//! executor's results.

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

use std::sync::Arc;

use bevy_ecs::world::World;

pub use graph::{Edge, EdgeReason};
pub use node::SystemTiming;
pub use parallel::{DEFAULT_OFFLOAD_MIN, ParallelConfig};
pub use plan::{PlannedSystem, SchedulePlan};

pub(crate) use parallel::ParallelExecutor;
pub(crate) use sequential::SequentialExecutor;

use crate::{BuildError, ecs_unsafe::AccessGuard};
use config::SystemsConfig;
use flatten::SetGate;
use graph::Graph;
use node::{NodeFault, SystemNode};

/// Which executor runs the systems of each tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Every system on the calling thread, in run order: the reference.
    Sequential,
    /// Independent systems overlap on an engine-owned rayon pool.
    Parallel(ParallelConfig),
}

impl Default for ExecutorKind {
    fn default() -> Self {
        ExecutorKind::Parallel(ParallelConfig::default())
    }
}

impl ExecutorKind {
    /// The rayon executor with `threads` threads (the driving thread included) and default
    /// settings otherwise.
    pub fn parallel(threads: usize) -> Self {
        ExecutorKind::Parallel(ParallelConfig {
            threads: threads.max(1),
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

/// A system that did not finish normally (registration index and what happened).
#[derive(Debug)]
pub(crate) struct FailedSystem {
    pub(crate) index: usize,
    pub(crate) fault: NodeFault,
}

/// Runs the systems of one tick (not their deferred work: the engine applies that after).
pub(crate) trait Executor: Send {
    fn run(&mut self, schedule: &mut Schedule, world: &mut World) -> Result<(), FailedSystem>;

    /// Threads that run systems, the driving thread included.
    fn threads(&self) -> usize;

    /// The worker pool, shared with systems as [`ComputePool`](crate::ComputePool).
    fn pool(&self) -> Option<std::sync::Arc<rayon::ThreadPool>> {
        None
    }
}

/// The systems of an engine with their graph.
pub(crate) struct Schedule {
    pub(crate) nodes: Vec<SystemNode>,
    pub(crate) graph: Graph,
    pub(crate) guard: AccessGuard,
    /// The run conditions of sets, reset before every tick.
    pub(crate) gates: Vec<Arc<SetGate>>,
    /// This tick times every system (see [`SystemTiming`]).
    pub(crate) sampling_tick: bool,
}

impl Schedule {
    pub(crate) fn build(config: SystemsConfig, world: &mut World) -> Result<Self, BuildError> {
        let flat = config.flatten()?;
        let gates: Vec<_> = flat
            .gates
            .into_iter()
            .map(|gate| initialize_gate(gate, world))
            .collect();
        let nodes: Vec<SystemNode> = flat
            .systems
            .into_iter()
            .map(|system| SystemNode::initialize(system, &gates, world))
            .collect();
        let graph = Graph::build(&nodes, &flat.orders, world)?;
        let guard = AccessGuard::new(graph.conflicts.clone());
        Ok(Self {
            nodes,
            graph,
            guard,
            gates: gates.into_iter().map(|(gate, ..)| gate).collect(),
            sampling_tick: true,
        })
    }

    /// Called before the systems of tick `tick` run.
    pub(crate) fn begin_tick(&mut self, tick: u64) {
        self.sampling_tick = tick.is_multiple_of(node::SAMPLE_EVERY);
        for gate in &self.gates {
            gate.reset();
        }
    }

    /// Runs every system once on the calling thread, in run order, applying each one's
    /// deferred work (Commands, event writes) right after it: startup systems, which run once
    /// before the first tick, so a later startup system sees what an earlier one spawned.
    pub(crate) fn run_once_applying(&mut self, world: &mut World) -> Result<(), FailedSystem> {
        self.begin_tick(0);
        for &index in &self.graph.order {
            let node = &mut self.nodes[index];
            node::catch_fault(|| {
                let outcome = node.run_with_world(world)?;
                node.system.apply_deferred(world);
                Ok(outcome)
            })
            .map_err(|fault| FailedSystem { index, fault })?;
        }
        Ok(())
    }

    /// Step 4 of a tick: every system's deferred work (Commands, event writes), in
    /// registration order. A panic while applying one system's work (a failing command) is
    /// reported with its name, and the others are still applied, so no event is held back to
    /// a later tick.
    pub(crate) fn apply_deferred(&mut self, world: &mut World) -> Result<(), FailedSystem> {
        let mut first_failure = None;
        for (index, node) in self.nodes.iter_mut().enumerate() {
            let applied = node::catch_fault(|| {
                node.system.apply_deferred(world);
                Ok(node::RunOutcome::Ran)
            });
            if let (Err(fault), None) = (applied, &first_failure) {
                first_failure = Some(FailedSystem { index, fault });
            }
        }
        first_failure.map_or(Ok(()), Err)
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

    pub(crate) fn timings(&self) -> impl Iterator<Item = (&str, SystemTiming)> {
        self.nodes
            .iter()
            .map(|node| (node.name.as_str(), node.timing))
    }
}

/// Initializes the conditions of a set on `world`: the gate, its conditions' access (added to
/// the access of every system of the set) and whether they are all `Send`.
fn initialize_gate(
    gate: SetGate,
    world: &mut World,
) -> (Arc<SetGate>, Vec<bevy_ecs::system::SystemAccess>, bool) {
    let mut access = Vec::new();
    let mut is_send = true;
    gate.for_each_condition(|condition| {
        access.push(condition.initialize(world));
        is_send &= condition.is_send();
    });
    (Arc::new(gate), access, is_send)
}

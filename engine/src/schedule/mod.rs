//! The system graph and its executors.
//!
//! Systems are bevy_ecs systems. Their access comes from `System::initialize`; every pair
//! whose access conflicts (or that both use `Commands`, see [`EdgeReason::SpawnOrder`]) gets
//! an edge in registration order unless an explicit order already orders it, so nothing is
//! ever ambiguous and every executor produces the sequential executor's results.

pub(crate) mod bitset;
mod config;
mod graph;
pub(crate) mod node;
mod parallel;
mod plan;
mod sequential;

use bevy_ecs::world::World;

pub use config::{
    ConfigMarker, IntoOrderTarget, IntoSystemConfig, OrderTarget, SetMarker, SetName, SystemConfig,
    SystemMarker,
};
pub use graph::{Edge, EdgeReason};
pub use node::SystemTiming;
pub use parallel::{DEFAULT_OFFLOAD_MIN, ParallelConfig};
pub use plan::{PlannedSystem, SchedulePlan};

pub(crate) use parallel::ParallelExecutor;
pub(crate) use sequential::SequentialExecutor;

use crate::{BuildError, ecs_unsafe::AccessGuard};
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
    /// This tick times every system (see [`SystemTiming`]).
    pub(crate) sampling_tick: bool,
}

impl Schedule {
    pub(crate) fn build(configs: Vec<SystemConfig>, world: &mut World) -> Result<Self, BuildError> {
        let nodes: Vec<SystemNode> = configs
            .into_iter()
            .map(|config| SystemNode::initialize(config, world))
            .collect();
        let graph = Graph::build(&nodes, world)?;
        let guard = AccessGuard::new(graph.conflicts.clone());
        Ok(Self {
            nodes,
            graph,
            guard,
            sampling_tick: true,
        })
    }

    /// Called before the systems of tick `tick` run.
    pub(crate) fn begin_tick(&mut self, tick: u64) {
        self.sampling_tick = tick.is_multiple_of(node::SAMPLE_EVERY);
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

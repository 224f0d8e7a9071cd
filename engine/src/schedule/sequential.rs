//! The reference executor: every system on the calling thread, in the graph's run order.

use std::time::Instant;

use bevy_ecs::world::World;

use super::{
    Executor, FailedSystem, Schedule,
    node::{NodeFault, RunOutcome, SystemNode},
};

/// Runs systems one by one in the schedule's topological order (registration order among
/// unordered systems). The parallel executor must produce exactly its results.
#[derive(Debug, Default)]
pub(crate) struct SequentialExecutor;

impl Executor for SequentialExecutor {
    fn run(&mut self, schedule: &mut Schedule, world: &mut World) -> Result<(), FailedSystem> {
        for &index in &schedule.graph.order {
            run_timed(&mut schedule.nodes[index], world)
                .map_err(|fault| FailedSystem { index, fault })?;
        }
        Ok(())
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Runs `chain` (registration indices) one after another with the world to itself. One clock
/// reading per system: each system's end is the next one's start.
pub(crate) fn run_chain(
    nodes: &mut [SystemNode],
    chain: &[usize],
    world: &mut World,
) -> Result<(), FailedSystem> {
    let mut start = Instant::now();
    for &index in chain {
        let node = &mut nodes[index];
        let outcome = node
            .run_with_world(world)
            .map_err(|fault| FailedSystem { index, fault })?;
        let end = Instant::now();
        match outcome {
            RunOutcome::Ran => node.timing.record_run(end - start),
            RunOutcome::Skipped => node.timing.record_skip(),
        }
        start = end;
    }
    Ok(())
}

/// Runs one node with the world to itself and records its timing.
pub(crate) fn run_timed(node: &mut SystemNode, world: &mut World) -> Result<(), NodeFault> {
    let start = Instant::now();
    let outcome = node.run_with_world(world)?;
    record(node, outcome, start);
    Ok(())
}

/// Records a finished run (or skip) that started at `start`.
pub(crate) fn record(node: &mut SystemNode, outcome: RunOutcome, start: Instant) {
    match outcome {
        RunOutcome::Ran => node.timing.record_run(start.elapsed()),
        RunOutcome::Skipped => node.timing.record_skip(),
    }
}

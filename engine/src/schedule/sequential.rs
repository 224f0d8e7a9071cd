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
        run_chain(
            &mut schedule.nodes,
            &schedule.graph.order,
            world,
            schedule.sampling_tick,
        )
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Runs `chain` (registration indices) one after another with the world to itself. Timed
/// systems next to each other share clock readings: one's end is the next one's start.
pub(crate) fn run_chain(
    nodes: &mut [SystemNode],
    chain: &[usize],
    world: &mut World,
    sampling_tick: bool,
) -> Result<(), FailedSystem> {
    let mut previous_end: Option<Instant> = None;
    for &index in chain {
        let node = &mut nodes[index];
        let start = node
            .timing
            .wants_timing(sampling_tick)
            .then(|| previous_end.unwrap_or_else(Instant::now));
        let outcome = node
            .run_with_world(world)
            .map_err(|fault| FailedSystem { index, fault })?;
        previous_end = record(node, outcome, start);
    }
    Ok(())
}

/// Runs one node with the world to itself, timed.
pub(crate) fn run_timed(node: &mut SystemNode, world: &mut World) -> Result<(), NodeFault> {
    let start = Instant::now();
    let outcome = node.run_with_world(world)?;
    record(node, outcome, Some(start));
    Ok(())
}

/// Records a finished run (or skip); `start` is `Some` when the run was timed. Returns the
/// end time of a timed run.
pub(crate) fn record(
    node: &mut SystemNode,
    outcome: RunOutcome,
    start: Option<Instant>,
) -> Option<Instant> {
    match (outcome, start) {
        (RunOutcome::Ran, Some(start)) => {
            let end = Instant::now();
            node.timing.record_run(end - start);
            Some(end)
        }
        (RunOutcome::Ran, None) => {
            node.timing.record_untimed_run();
            None
        }
        (RunOutcome::Skipped, _) => {
            node.timing.record_skip();
            None
        }
    }
}

//! The reference executor: every system on the calling thread, in the graph's run order.

use std::time::Instant;

use bevy_ecs::world::World;

use super::{
    Executor, FailedSystem, Failures, Phase, RunCounters, StepRun,
    node::{NodeFault, RunOutcome, SystemNode},
    spawns,
};

/// Runs systems one by one in the schedule's topological order (registration order among
/// unordered systems). The parallel executor must produce exactly its results.
#[derive(Debug, Default)]
pub(crate) struct SequentialExecutor;

impl Executor for SequentialExecutor {
    fn run_step(&mut self, run: StepRun<'_>, counters: &mut RunCounters) -> Failures {
        run_inline(run, counters)
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Runs the systems of a step one after another on the calling thread, in run order.
pub(crate) fn run_inline(run: StepRun<'_>, counters: &mut RunCounters) -> Failures {
    run_chain(
        run.nodes,
        &run.step.nodes,
        run.world,
        run.sampling_tick,
        counters,
    )
}

/// Runs `chain` (registration indices) one after another with the world to itself, every
/// system even after one failed. Timed systems next to each other share clock readings: one's
/// end is the next one's start.
pub(crate) fn run_chain(
    nodes: &mut [SystemNode],
    chain: &[usize],
    world: &mut World,
    sampling_tick: bool,
    counters: &mut RunCounters,
) -> Failures {
    let mut failures = Failures::default();
    let mut previous_end: Option<Instant> = None;
    for &index in chain {
        let node = &mut nodes[index];
        let start = node
            .timing
            .wants_timing(sampling_tick)
            .then(|| previous_end.unwrap_or_else(Instant::now));
        let result = run_counting(node, world);
        previous_end = match result {
            Ok(outcome) => record(node, outcome, start),
            Err(fault) => {
                failures.record(FailedSystem {
                    index,
                    phase: Phase::Run,
                    fault,
                });
                None
            }
        };
    }
    if !chain.is_empty() {
        counters.peak_running = counters.peak_running.max(1);
    }
    failures
}

/// Runs one node with the world to itself, counting its entity allocations if asked to.
fn run_counting(node: &mut SystemNode, world: &mut World) -> Result<RunOutcome, NodeFault> {
    if !node.count_spawns {
        return node.run_with_world(world);
    }
    let before = spawns::allocations(world.entity_allocator());
    let result = node.run_with_world(world);
    node.allocated = spawns::allocated_since(before, world.entity_allocator());
    result
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

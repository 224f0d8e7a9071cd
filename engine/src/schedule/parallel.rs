//! The rayon executor: independent systems overlap on an engine-owned thread pool, but only
//! when that pays.
//!
//! `threads = N` means N threads run systems: the thread that drives the tick plus N − 1 pool
//! workers. A system is handed to a worker only when its recent run time is at least
//! `offload_min` and there is other work for the driving thread meanwhile; everything else,
//! cheap chains in particular, runs inline on the driving thread, which costs what the
//! sequential executor costs. These choices change speed, never results: the graph fixes the
//! order of every conflicting pair, and deferred work is applied in registration order after
//! the systems ran.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use bevy_ecs::world::World;
use crossbeam_channel::{Receiver, Sender};

use super::{
    Executor, FailedSystem, Schedule,
    graph::Step,
    node::{NodeFault, SystemNode},
    sequential::{record, run_chain, run_timed},
};
use crate::ecs_unsafe::SharedWorld;

/// Default for [`ParallelConfig::offload_min`].
pub const DEFAULT_OFFLOAD_MIN: Duration = Duration::from_micros(5);

/// Settings of the rayon executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParallelConfig {
    /// Threads that run systems, the driving thread included (at least 1).
    pub threads: usize,
    /// Systems whose average run time is below this always run inline on the driving thread.
    pub offload_min: Duration,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            offload_min: DEFAULT_OFFLOAD_MIN,
        }
    }
}

/// A finished offloaded system: its position in the step and how it ended.
type Completion = (usize, Result<(), NodeFault>);

pub(crate) struct ParallelExecutor {
    pool: Option<Arc<rayon::ThreadPool>>,
    config: ParallelConfig,
    done_tx: Sender<Completion>,
    done_rx: Receiver<Completion>,
}

impl ParallelExecutor {
    pub(crate) fn new(config: ParallelConfig) -> Result<Self, rayon::ThreadPoolBuildError> {
        let workers = config.threads.max(1) - 1;
        let pool = (workers > 0)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .thread_name(|i| format!("tickbus-worker-{i}"))
                    .build()
                    .map(Arc::new)
            })
            .transpose()?;
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Ok(Self {
            pool,
            config,
            done_tx,
            done_rx,
        })
    }

    fn workers(&self) -> usize {
        self.pool
            .as_ref()
            .map_or(0, |pool| pool.current_num_threads())
    }

    /// True when some system of the step is worth handing to a worker.
    fn worth_dispatching(&self, nodes: &[SystemNode], step_nodes: &[usize]) -> bool {
        self.pool.is_some()
            && step_nodes.len() > 1
            && step_nodes
                .iter()
                .any(|&i| offloadable(&nodes[i], self.config.offload_min))
    }
}

/// A system worth a worker: `Send`, timed at least once, and on average not cheaper than
/// waking a thread.
fn offloadable(node: &SystemNode, offload_min: Duration) -> bool {
    node.is_send && node.timing.timed > 0 && node.timing.average >= offload_min
}

impl Executor for ParallelExecutor {
    fn run(&mut self, schedule: &mut Schedule, world: &mut World) -> Result<(), FailedSystem> {
        let Schedule {
            nodes,
            graph,
            guard,
            sampling_tick,
        } = schedule;
        for step in &graph.steps {
            match step {
                Step::Exclusive(index) => {
                    run_timed(&mut nodes[*index], world).map_err(|fault| FailedSystem {
                        index: *index,
                        fault,
                    })?
                }
                Step::Shared { nodes: members, .. } if !self.worth_dispatching(nodes, members) => {
                    run_chain(nodes, members, world, *sampling_tick)?;
                }
                Step::Shared {
                    nodes: members,
                    predecessors,
                    successors,
                } => {
                    let shared = SharedWorld::new(world, guard);
                    let plan = StepPlan {
                        members,
                        predecessors,
                        successors,
                    };
                    self.dispatch(shared, nodes, &plan)?;
                }
            }
        }
        Ok(())
    }

    fn threads(&self) -> usize {
        self.workers() + 1
    }

    fn pool(&self) -> Option<Arc<rayon::ThreadPool>> {
        self.pool.clone()
    }
}

struct StepPlan<'a> {
    members: &'a [usize],
    predecessors: &'a [usize],
    successors: &'a [Vec<usize>],
}

/// The driving thread's bookkeeping for one step. Ready systems wait in two queues, so
/// picking the next one is O(1): `heavy` ones are worth a worker, `light` ones run inline.
struct Dispatch<'n> {
    slots: Vec<Option<&'n mut SystemNode>>,
    waiting: Vec<usize>,
    heavy: VecDeque<usize>,
    light: VecDeque<usize>,
    offload_min: Duration,
    in_flight: usize,
    failure: Option<FailedSystem>,
}

/// What the driving thread does next.
enum Next {
    Offload(usize),
    Inline(usize),
    Wait,
    Done,
}

impl<'n> Dispatch<'n> {
    fn new(nodes: &'n mut [SystemNode], plan: &StepPlan, offload_min: Duration) -> Self {
        let mut all: Vec<Option<&mut SystemNode>> = nodes.iter_mut().map(Some).collect();
        let slots = plan.members.iter().map(|&i| all[i].take()).collect();
        let mut dispatch = Self {
            slots,
            waiting: plan.predecessors.to_vec(),
            heavy: VecDeque::new(),
            light: VecDeque::new(),
            offload_min,
            in_flight: 0,
            failure: None,
        };
        for position in 0..plan.members.len() {
            if plan.predecessors[position] == 0 {
                dispatch.make_ready(position);
            }
        }
        dispatch
    }

    fn make_ready(&mut self, position: usize) {
        let node = self.slots[position]
            .as_ref()
            .expect("a ready system has not run");
        if offloadable(node, self.offload_min) {
            self.heavy.push_back(position);
        } else {
            self.light.push_back(position);
        }
    }

    /// Heavy work goes to a free worker while the driving thread has something else to do;
    /// otherwise the driving thread runs light work, then heavy work itself.
    fn next(&mut self, workers: usize) -> Next {
        if self.failure.is_some() {
            return if self.in_flight > 0 {
                Next::Wait
            } else {
                Next::Done
            };
        }
        let other_work = self.heavy.len() + self.light.len() > 1 || self.in_flight > 0;
        if self.in_flight < workers
            && other_work
            && let Some(position) = self.heavy.pop_front()
        {
            return Next::Offload(position);
        }
        if let Some(position) = self.light.pop_front().or_else(|| self.heavy.pop_front()) {
            return Next::Inline(position);
        }
        if self.in_flight > 0 {
            Next::Wait
        } else {
            Next::Done
        }
    }

    fn complete(&mut self, plan: &StepPlan, position: usize, result: Result<(), NodeFault>) {
        match result {
            Ok(()) => {
                for &next in &plan.successors[position] {
                    self.waiting[next] -= 1;
                    if self.waiting[next] == 0 {
                        self.make_ready(next);
                    }
                }
            }
            Err(fault) => {
                let index = plan.members[position];
                // Keep the first failure in registration order among those seen.
                if self.failure.as_ref().is_none_or(|f| f.index > index) {
                    self.failure = Some(FailedSystem { index, fault });
                }
            }
        }
    }
}

impl ParallelExecutor {
    fn dispatch(
        &mut self,
        shared: SharedWorld<'_>,
        nodes: &mut [SystemNode],
        plan: &StepPlan,
    ) -> Result<(), FailedSystem> {
        let workers = self.workers();
        let pool = self
            .pool
            .as_ref()
            .expect("dispatch is only chosen with a pool");
        let (done_tx, done_rx) = (&self.done_tx, &self.done_rx);
        let mut state = Dispatch::new(nodes, plan, self.config.offload_min);
        pool.in_place_scope(|scope| {
            loop {
                // Finished workers free a slot (and may make successors ready).
                while let Ok((position, result)) = done_rx.try_recv() {
                    state.in_flight -= 1;
                    state.complete(plan, position, result);
                }
                match state.next(workers) {
                    Next::Offload(position) => {
                        let node = state.slots[position].take().expect("each system runs once");
                        let index = plan.members[position];
                        let done_tx = done_tx.clone();
                        state.in_flight += 1;
                        scope.spawn(move |_| {
                            let result = run_shared_timed(shared, index, node);
                            // The receiver lives in the executor, which outlives the scope.
                            let _ = done_tx.send((position, result));
                        });
                    }
                    Next::Inline(position) => {
                        let node = state.slots[position].take().expect("each system runs once");
                        let result = run_shared_timed(shared, plan.members[position], node);
                        state.complete(plan, position, result);
                    }
                    Next::Wait => {
                        let (position, result) =
                            done_rx.recv().expect("the executor holds a sender");
                        state.in_flight -= 1;
                        state.complete(plan, position, result);
                    }
                    Next::Done => break,
                }
            }
        });
        state.failure.map_or(Ok(()), Err)
    }
}

fn run_shared_timed(
    shared: SharedWorld<'_>,
    index: usize,
    node: &mut SystemNode,
) -> Result<(), NodeFault> {
    let start = Instant::now();
    let outcome = shared.run_node(index, node)?;
    record(node, outcome, Some(start));
    Ok(())
}

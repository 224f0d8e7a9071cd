//! The rayon executor: independent systems overlap on an engine-owned thread pool, but only
//! when that pays.
//!
//! `threads = N` means N threads run systems: the thread that drives the tick plus N − 1 pool
//! workers. Within a step (the systems between two exclusive ones) every thread takes the next
//! ready system itself when it becomes free: workers take only systems whose recent average
//! run time is at least `offload_min`; the driving thread takes cheap ones first, then heavy
//! ones, and alone runs systems that are not `Send`. When no system of a step is worth a
//! worker, the step runs inline on the driving thread, which costs what the sequential
//! executor costs. These choices change speed, never results: the graph fixes the order of
//! every conflicting pair, and deferred work is applied in registration order after the
//! systems ran.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use bevy_ecs::world::World;

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
    /// Pins worker `i` to core `i + 1` (modulo the core count), leaving core 0 to the
    /// driving thread. Without it, a worker woken while the driving thread is busy may be
    /// queued on the driving thread's core until that thread stops (measured here: a median
    /// wake-up of 400 µs unpinned, 20 µs pinned), which defeats short parallel steps.
    pub pin_workers: bool,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            offload_min: DEFAULT_OFFLOAD_MIN,
            pin_workers: true,
        }
    }
}

/// Pins the calling worker thread to a core, as [`ParallelConfig::pin_workers`] describes.
/// Pinning is a speed hint: where the platform refuses it, the worker simply floats.
fn pin_worker(worker: usize) {
    if let Some(cores) = core_affinity::get_core_ids().filter(|cores| !cores.is_empty()) {
        core_affinity::set_for_current(cores[(worker + 1) % cores.len()]);
    }
}

pub(crate) struct ParallelExecutor {
    pool: Option<Arc<rayon::ThreadPool>>,
    config: ParallelConfig,
}

impl ParallelExecutor {
    pub(crate) fn new(config: ParallelConfig) -> Result<Self, rayon::ThreadPoolBuildError> {
        let workers = config.threads.max(1) - 1;
        let pool = (workers > 0)
            .then(|| {
                let builder = rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .thread_name(|i| format!("tickbus-worker-{i}"));
                let builder = if config.pin_workers {
                    builder.start_handler(pin_worker)
                } else {
                    builder
                };
                builder.build().map(Arc::new)
            })
            .transpose()?;
        Ok(Self { pool, config })
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
            ..
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

/// The shared bookkeeping of one step, behind a mutex. Ready systems wait in two queues:
/// `heavy` ones (worth a worker) and `light` ones (for the driving thread).
struct Dispatch<'n> {
    slots: Vec<Option<&'n mut SystemNode>>,
    waiting: Vec<usize>,
    heavy: VecDeque<usize>,
    light: VecDeque<usize>,
    offload_min: Duration,
    in_flight: usize,
    /// Worker tasks currently in the step; each leaves as soon as it finds no heavy work.
    helpers: usize,
    max_helpers: usize,
    unfinished: usize,
    /// Bumped whenever a system finishes, so idle threads know to look again.
    progress: u64,
    failure: Option<FailedSystem>,
}

/// Which thread asks for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Taker {
    Driver,
    Worker,
}

impl<'n> Dispatch<'n> {
    fn new(
        nodes: &'n mut [SystemNode],
        plan: &StepPlan,
        offload_min: Duration,
        max_helpers: usize,
    ) -> Self {
        let mut all: Vec<Option<&mut SystemNode>> = nodes.iter_mut().map(Some).collect();
        let slots = plan.members.iter().map(|&i| all[i].take()).collect();
        let mut dispatch = Self {
            slots,
            waiting: plan.predecessors.to_vec(),
            heavy: VecDeque::new(),
            light: VecDeque::new(),
            offload_min,
            in_flight: 0,
            helpers: 0,
            max_helpers,
            unfinished: plan.members.len(),
            progress: 0,
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

    /// The next system for `taker`, taken out of its slot. Workers take heavy systems only;
    /// the driving thread takes light ones first. Nothing new starts after a failure.
    fn take(&mut self, taker: Taker) -> Option<(usize, &'n mut SystemNode)> {
        if self.failure.is_some() {
            return None;
        }
        let position = match taker {
            Taker::Worker => self.heavy.pop_front(),
            Taker::Driver => self.light.pop_front().or_else(|| self.heavy.pop_front()),
        }?;
        self.in_flight += 1;
        let node = self.slots[position].take().expect("each system runs once");
        Some((position, node))
    }

    fn complete(&mut self, plan: &StepPlan, position: usize, result: Result<(), NodeFault>) {
        self.in_flight -= 1;
        self.unfinished -= 1;
        self.progress += 1;
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

    /// How many more worker tasks to start: one per heavy ready system no helper is there for.
    fn helpers_wanted(&mut self) -> usize {
        if self.failure.is_some() {
            return 0;
        }
        let wanted = self
            .heavy
            .len()
            .saturating_sub(self.helpers)
            .min(self.max_helpers - self.helpers);
        self.helpers += wanted;
        wanted
    }

    /// Nothing left to run or wait for.
    fn finished(&self) -> bool {
        self.unfinished == 0 || (self.failure.is_some() && self.in_flight == 0)
    }
}

/// One step's dispatch state shared by the driving thread and the workers.
///
/// A worker task never blocks: when it finds no heavy system it leaves, and whoever makes a
/// heavy system ready starts a new one. (A pool thread parked on the step could deadlock a
/// system on the driving thread that hands data-parallel work to the same pool.) Only the
/// driving thread, which is not a pool thread, waits for workers.
struct SharedStep<'s, 'n> {
    state: Mutex<Dispatch<'n>>,
    changed: Condvar,
    shared: SharedWorld<'s>,
    plan: &'s StepPlan<'s>,
}

impl<'s, 'n> SharedStep<'s, 'n> {
    fn lock(&self) -> MutexGuard<'_, Dispatch<'n>> {
        // Nothing panics while the lock is held (system panics are caught inside the run),
        // so a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the worker tasks the ready heavy systems call for.
    fn start_helpers<'scope>(&'scope self, scope: &rayon::Scope<'scope>)
    where
        's: 'scope,
        'n: 'scope,
    {
        let wanted = self.lock().helpers_wanted();
        for _ in 0..wanted {
            scope.spawn(|scope| self.help(scope));
        }
    }

    /// A worker: runs heavy systems while there are any, then leaves.
    fn help<'scope>(&'scope self, scope: &rayon::Scope<'scope>)
    where
        's: 'scope,
        'n: 'scope,
    {
        loop {
            let mut state = self.lock();
            let Some((position, node)) = state.take(Taker::Worker) else {
                state.helpers -= 1;
                return;
            };
            drop(state);
            self.run_and_complete(position, node);
            self.start_helpers(scope);
        }
    }

    /// The driving thread: runs light systems, heavy ones nobody took, and waits for workers
    /// when nothing is left for it, until the step is finished.
    fn drive<'scope>(&'scope self, scope: &rayon::Scope<'scope>)
    where
        's: 'scope,
        'n: 'scope,
    {
        self.start_helpers(scope);
        let mut state = self.lock();
        while !state.finished() {
            let Some((position, node)) = state.take(Taker::Driver) else {
                let seen = state.progress;
                state = self
                    .changed
                    .wait_while(state, |s| s.progress == seen && !s.finished())
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            drop(state);
            self.run_and_complete(position, node);
            self.start_helpers(scope);
            state = self.lock();
        }
    }

    fn run_and_complete(&self, position: usize, node: &mut SystemNode) {
        let result = run_shared_timed(self.shared, self.plan.members[position], node);
        self.lock().complete(self.plan, position, result);
        self.changed.notify_all();
    }
}

impl ParallelExecutor {
    fn dispatch(
        &mut self,
        shared: SharedWorld<'_>,
        nodes: &mut [SystemNode],
        plan: &StepPlan,
    ) -> Result<(), FailedSystem> {
        let pool = self
            .pool
            .as_ref()
            .expect("dispatch is only chosen with a pool");
        let dispatch = Dispatch::new(nodes, plan, self.config.offload_min, self.workers());
        let step = SharedStep {
            state: Mutex::new(dispatch),
            changed: Condvar::new(),
            shared,
            plan,
        };
        pool.in_place_scope(|scope| step.drive(scope));
        let failure = step.lock().failure.take();
        failure.map_or(Ok(()), Err)
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

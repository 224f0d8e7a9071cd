//! The parallel executor: independent systems overlap on engine-owned worker threads, but
//! only when that pays.
//!
//! `threads = N` means N threads run systems: the thread that drives the tick plus N − 1
//! workers ([`WorkerPool`]), which also serve [`ComputePool`] loops. A step (the systems
//! between two exclusive ones) runs inline on the driving thread, exactly as the sequential
//! executor runs it, unless the step's measurements say that handing systems to workers is
//! faster (`schedule/adaptive.rs`). Then every thread takes the next ready system
//! itself when it becomes free: workers take only systems worth a worker (on average at
//! least `offload_min`); the driving thread takes cheap ones first, then the others, and alone
//! runs systems that are not `Send`.
//!
//! These choices change speed, never results: the graph fixes the order of every conflicting
//! pair, every system runs even after another failed, and deferred work is applied in
//! registration order after the systems ran. Nothing is allocated per step once the buffers
//! have grown to the largest step.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::{
    Executor, FailedSystem, Failures, Phase, RunCounters, StepRun,
    adaptive::{self, Outlook, StepChoice, Way},
    graph::SharedStep,
    node::{NodeFault, SystemNode},
    sequential::{record, run_inline},
    shared_world::{NodeSlots, SharedWorld},
    spawns,
    workers::{Deadline, Help, Ticket, WorkerPool, spin_a_little},
};
use crate::{BuildError, ComputePool};

/// Default for [`ParallelConfig::offload_min`].
pub const DEFAULT_OFFLOAD_MIN: Duration = Duration::from_micros(5);

/// Default for [`ParallelConfig::spin`].
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// The most threads [`ParallelConfig::threads`] may ask for.
pub const MAX_THREADS: usize = 1024;

/// The longest [`ParallelConfig::spin`]: spinning longer than this would hold a core for
/// nothing that sleeping could not do as well.
pub const MAX_SPIN: Duration = Duration::from_secs(1);

/// How long, under [`OffloadPolicy::Always`], the driving thread leaves systems to idle
/// workers that were asked for but have not arrived yet before it runs them itself.
const ALWAYS_GRACE: Duration = Duration::from_micros(200);

/// When the parallel executor hands systems to its workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OffloadPolicy {
    /// Only where it pays, by the executor's own measurements, step by step. A step is
    /// considered only if, by its systems' average run times, its best case on all threads
    /// (bounded by its longest chain of dependent systems) would save a tenth of its time and
    /// more than the workers' recent wake-up latency; such a step is then timed both ways and
    /// run the faster way (inline unless parallel wins by 3%), trying the other way again now
    /// and then, never so often that the tries cost more than 1% of the step's time. So it
    /// stays level with the sequential executor where parallelism cannot pay. A step that
    /// could not pay for a while is reconsidered every 64 ticks only, so a step that starts
    /// to pay (systems that grew, or were switched on again by a run condition) may run
    /// inline for up to 64 ticks before it is first tried in parallel.
    #[default]
    Adaptive,
    /// Every step of two or more systems, every `Send` system, measured or not; the driving
    /// thread leaves them to idle workers that are on their way first (for up to 0.2 ms).
    /// [`ComputePool`](crate::ComputePool) loops of two or more chunks are offered to idle
    /// workers too, however short. Slower for small systems: this is for tests that must see
    /// systems and loops overlap.
    Always,
}

/// Settings of the parallel executor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParallelConfig {
    /// Threads that run systems, the driving thread included (1 to [`MAX_THREADS`]).
    pub threads: usize,
    /// Under [`OffloadPolicy::Adaptive`], systems whose average run time is below this stay
    /// on the driving thread.
    pub offload_min: Duration,
    /// When systems are handed to workers.
    pub policy: OffloadPolicy,
    /// How long an idle worker (or the driving thread waiting for workers) spins before it
    /// sleeps. Waking a sleeping thread costs tens of microseconds; a spinning one answers
    /// within one. At most [`MAX_SPIN`].
    pub spin: Duration,
    /// Pins worker `i` to core `i + 1` (modulo the core count). Off by default: nothing pins
    /// the driving thread (it is the caller's), and when it runs on the core of a pinned
    /// worker the two take turns on one core — 4 × 100 µs then ran at 1.04× the sequential
    /// time instead of 0.55×, so timings were bimodal. Unpinned, the operating system places
    /// a woken worker on an idle core.
    pub pin_workers: bool,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            offload_min: DEFAULT_OFFLOAD_MIN,
            policy: OffloadPolicy::Adaptive,
            spin: DEFAULT_SPIN,
            pin_workers: false,
        }
    }
}

pub(crate) struct ParallelExecutor {
    pool: Option<Arc<WorkerPool>>,
    config: ParallelConfig,
    choices: Vec<StepChoice>,
    scratch: Scratch,
}

impl ParallelConfig {
    /// Refuses settings the executor cannot run with.
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        if !(1..=MAX_THREADS).contains(&self.threads) {
            return Err(BuildError::ThreadCount {
                threads: self.threads,
            });
        }
        if self.spin > MAX_SPIN {
            return Err(BuildError::SpinTooLong { spin: self.spin });
        }
        Ok(())
    }
}

impl ParallelExecutor {
    pub(crate) fn new(config: ParallelConfig) -> Result<Self, BuildError> {
        config.validate()?;
        let workers = config.threads - 1;
        let pool = (workers > 0)
            .then(|| WorkerPool::new(workers, config.spin, config.pin_workers).map(Arc::new))
            .transpose()?;
        Ok(Self {
            pool,
            config,
            choices: Vec::new(),
            scratch: Scratch::default(),
        })
    }
}

/// The adaptive way for this step this tick (`None`: inline, unmeasured). Reads the clock
/// (the workers' wake-up latency) and the systems' timings only on the sampling ticks that
/// re-judge the step: on every other tick of a step that cannot pay, choosing costs a few
/// comparisons, so the inline path is the sequential executor's loop and nothing more.
fn choose(
    choices: &mut Vec<StepChoice>,
    pool: &WorkerPool,
    config: &ParallelConfig,
    scratch: &mut Scratch,
    run: &StepRun<'_>,
) -> Option<Way> {
    if choices.len() <= run.step_index {
        choices.resize(run.step_index + 1, StepChoice::default());
    }
    let choice = &mut choices[run.step_index];
    if choice.rejudges(run.sampling_tick) {
        let outlook = Outlook {
            threads: config.threads,
            offload_min: config.offload_min,
            wake_latency: pool.wake_latency(),
        };
        choice.reconsider(adaptive::could_pay(
            run.nodes,
            run.step,
            &outlook,
            &mut scratch.finish,
        ));
    }
    choice.choose()
}

impl Executor for ParallelExecutor {
    fn run_step(&mut self, run: StepRun<'_>, counters: &mut RunCounters) -> Failures {
        let Self {
            pool,
            config,
            choices,
            scratch,
        } = self;
        let Some(pool) = pool.as_deref().filter(|_| run.step.nodes.len() > 1) else {
            return run_inline(run, counters);
        };
        if config.policy == OffloadPolicy::Always {
            return dispatch(pool, config, scratch, run, counters);
        }
        let Some(way) = choose(choices, pool, config, scratch, &run) else {
            return run_inline(run, counters);
        };
        let started = Instant::now();
        let step_index = run.step_index;
        let failures = match way {
            Way::Parallel => dispatch(pool, config, scratch, run, counters),
            Way::Inline => run_inline(run, counters),
        };
        choices[step_index].record(way, started.elapsed());
        failures
    }

    fn threads(&self) -> usize {
        self.pool.as_ref().map_or(0, |pool| pool.workers()) + 1
    }

    fn compute_pool(&self) -> ComputePool {
        let forced = self.config.policy == OffloadPolicy::Always;
        ComputePool::new(self.pool.clone(), forced)
    }
}

/// Buffers of a dispatch, kept from step to step so that dispatching allocates nothing.
#[derive(Default)]
struct Scratch {
    waiting: Vec<usize>,
    heavy_flags: Vec<bool>,
    heavy: VecDeque<usize>,
    light: VecDeque<usize>,
    claimed: Vec<AtomicBool>,
    finish: Vec<Duration>,
}

impl Scratch {
    /// Sizes and fills the buffers for `step`; `heavy(node)` says which systems workers take.
    fn prepare(
        &mut self,
        nodes: &[SystemNode],
        step: &SharedStep,
        heavy: impl Fn(&SystemNode) -> bool,
    ) {
        self.waiting.clear();
        self.waiting.extend_from_slice(&step.predecessors);
        self.heavy_flags.clear();
        self.heavy_flags
            .extend(step.nodes.iter().map(|&i| heavy(&nodes[i])));
        self.heavy.clear();
        self.light.clear();
        if self.claimed.len() != nodes.len() {
            self.claimed = (0..nodes.len()).map(|_| AtomicBool::new(false)).collect();
        }
    }

    /// The prepared buffers as a fresh dispatch of `step`, and the claim flags.
    fn dispatch<'s>(&'s mut self, step: &'s SharedStep) -> (Dispatch<'s>, &'s mut [AtomicBool]) {
        let dispatch = Dispatch::new(
            step,
            &mut self.waiting,
            &self.heavy_flags,
            &mut self.heavy,
            &mut self.light,
        );
        (dispatch, &mut self.claimed)
    }
}

/// Runs a step on the driving thread and the workers that join it.
fn dispatch(
    pool: &WorkerPool,
    config: &ParallelConfig,
    scratch: &mut Scratch,
    run: StepRun<'_>,
    counters: &mut RunCounters,
) -> Failures {
    let StepRun {
        nodes,
        step,
        world,
        guard,
        sampling_tick,
        ..
    } = run;
    let always = config.policy == OffloadPolicy::Always;
    scratch.prepare(nodes, step, |node| {
        node.is_send && (always || adaptive::offloadable(node, config.offload_min))
    });
    let (dispatch, claimed) = scratch.dispatch(step);
    let task = StepTask {
        state: Mutex::new(dispatch),
        changed: Condvar::new(),
        progress: AtomicU64::new(0),
        shared: SharedWorld::new(world, guard),
        slots: NodeSlots::new(nodes, claimed),
        step,
        pool,
        sampling_tick,
        always,
    };
    let helpers = task.lock().heavy.len();
    pool.with_helpers(&task, helpers, |ticket| task.drive(ticket));
    let state = task
        .state
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    counters.on_workers += state.on_workers;
    counters.peak_running = counters.peak_running.max(state.peak_running);
    state.failures
}

/// Which thread asks for work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Taker {
    Driver,
    Worker,
}

/// The bookkeeping of one dispatched step (positions are indices into the step's `nodes`).
/// Ready systems wait in two queues: `heavy` ones (worth a worker) and `light` ones (for the
/// driving thread).
struct Dispatch<'s> {
    step: &'s SharedStep,
    waiting: &'s mut [usize],
    heavy_flags: &'s [bool],
    heavy: &'s mut VecDeque<usize>,
    light: &'s mut VecDeque<usize>,
    running: usize,
    unfinished: usize,
    on_workers: usize,
    peak_running: usize,
    failures: Failures,
    /// The helpers last asked of the pool.
    helpers_asked: usize,
    driver_sleeping: bool,
}

impl<'s> Dispatch<'s> {
    fn new(
        step: &'s SharedStep,
        waiting: &'s mut [usize],
        heavy_flags: &'s [bool],
        heavy: &'s mut VecDeque<usize>,
        light: &'s mut VecDeque<usize>,
    ) -> Self {
        let mut dispatch = Self {
            step,
            waiting,
            heavy_flags,
            heavy,
            light,
            running: 0,
            unfinished: step.nodes.len(),
            on_workers: 0,
            peak_running: 0,
            failures: Failures::default(),
            helpers_asked: 0,
            driver_sleeping: false,
        };
        for position in 0..step.nodes.len() {
            if dispatch.waiting[position] == 0 {
                dispatch.make_ready(position);
            }
        }
        dispatch.helpers_asked = dispatch.heavy.len();
        dispatch
    }

    fn make_ready(&mut self, position: usize) {
        if self.heavy_flags[position] {
            self.heavy.push_back(position);
        } else {
            self.light.push_back(position);
        }
    }

    /// The next system for `taker`: workers take heavy systems only; the driving thread light
    /// ones first, then heavy ones unless `leave_heavy`.
    fn take(&mut self, taker: Taker, leave_heavy: bool) -> Option<usize> {
        let position = match taker {
            Taker::Worker => self.heavy.pop_front(),
            Taker::Driver if leave_heavy => self.light.pop_front(),
            Taker::Driver => self.light.pop_front().or_else(|| self.heavy.pop_front()),
        }?;
        self.running += 1;
        self.peak_running = self.peak_running.max(self.running);
        self.on_workers += usize::from(taker == Taker::Worker);
        Some(position)
    }

    /// Records that the system at `position` finished (or failed) and readies those that
    /// waited only for it. Successors of a failed system run too.
    fn complete(&mut self, position: usize, result: Result<(), NodeFault>) {
        self.running -= 1;
        self.unfinished -= 1;
        for &next in &self.step.successors[position] {
            self.waiting[next] -= 1;
            if self.waiting[next] == 0 {
                self.make_ready(next);
            }
        }
        if let Err(fault) = result {
            self.failures.record(FailedSystem {
                index: self.step.nodes[position],
                phase: Phase::Run,
                fault,
            });
        }
    }

    /// Helpers to ask the pool for now, if that changed: one per ready heavy system (the
    /// pool lets in only workers that are idle, never busy ones).
    fn helpers_to_ask(&mut self) -> Option<usize> {
        let wanted = self.heavy.len();
        (wanted != self.helpers_asked).then(|| {
            self.helpers_asked = wanted;
            wanted
        })
    }

    fn finished(&self) -> bool {
        self.unfinished == 0
    }
}

/// One dispatched step, shared by the driving thread and the workers that join it.
///
/// A worker never waits inside it: it leaves as soon as no heavy system is ready, and whoever
/// readies one asks the pool for a helper again. (A worker parked on the step could deadlock
/// a system on the driving thread that posts a data-parallel loop.) Only the driving thread
/// waits, for the systems in flight.
struct StepTask<'s, 'w> {
    state: Mutex<Dispatch<'s>>,
    /// The driving thread sleeps here when it has nothing to do.
    changed: Condvar,
    /// Bumped whenever a system finishes, for the driving thread's spin-wait.
    progress: AtomicU64,
    shared: SharedWorld<'w>,
    slots: NodeSlots<'w>,
    step: &'s SharedStep,
    pool: &'s WorkerPool,
    sampling_tick: bool,
    always: bool,
}

impl Help for StepTask<'_, '_> {
    fn help(&self, ticket: Ticket) {
        while let Some(position) = self.take(Taker::Worker, false, ticket) {
            self.run(position, ticket);
        }
    }
}

impl<'s> StepTask<'s, '_> {
    fn lock(&self) -> MutexGuard<'_, Dispatch<'s>> {
        // Nothing panics while the lock is held (systems run outside it, and their panics are
        // caught), so a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, taker: Taker, leave_heavy: bool, ticket: Ticket) -> Option<usize> {
        let mut state = self.lock();
        let position = state.take(taker, leave_heavy);
        let ask = state.helpers_to_ask();
        drop(state);
        if let Some(helpers) = ask {
            self.pool.want(ticket, helpers);
        }
        position
    }

    /// Runs the system at `position`; completion is recorded even if something between here
    /// and the end unwinds (see [`Completion`]).
    fn run(&self, position: usize, ticket: Ticket) {
        let mut completion = Completion {
            task: self,
            position,
            ticket,
            result: None,
        };
        let index = self.step.nodes[position];
        completion.result = Some(match self.slots.claim(index) {
            Some(node) => run_shared(self.shared, node, self.sampling_tick),
            None => Err(NodeFault::Failed(
                "internal scheduling error: a system was handed out twice".to_owned(),
            )),
        });
    }

    fn complete(&self, position: usize, result: Result<(), NodeFault>, ticket: Ticket) {
        let mut state = self.lock();
        state.complete(position, result);
        let ask = state.helpers_to_ask();
        let wake_driver = state.driver_sleeping;
        self.progress.fetch_add(1, Ordering::Release);
        drop(state);
        if let Some(helpers) = ask {
            self.pool.want(ticket, helpers);
        }
        if wake_driver {
            self.changed.notify_one();
        }
    }

    /// The driving thread: runs light systems, heavy ones no worker took, and waits for the
    /// workers when nothing is left for it, until every system of the step finished.
    fn drive(&self, ticket: Ticket) {
        let mut declined_since: Option<Instant> = None;
        loop {
            let seen = self.progress.load(Ordering::Acquire);
            let leave_heavy = self.leaves_heavy_to_workers(ticket, &declined_since);
            if let Some(position) = self.take(Taker::Driver, leave_heavy, ticket) {
                self.run(position, ticket);
                continue;
            }
            if self.lock().finished() {
                return;
            }
            if leave_heavy {
                let since = *declined_since.get_or_insert_with(Instant::now);
                // Wait on counters, not locks: the workers need those.
                while self.progress.load(Ordering::Acquire) == seen
                    && self.pool.on_their_way(ticket) > 0
                    && since.elapsed() < ALWAYS_GRACE
                {
                    spin_a_little();
                }
                continue;
            }
            self.wait_for_progress(seen, ticket);
        }
    }

    /// Under [`OffloadPolicy::Always`], the driving thread leaves heavy systems to the idle
    /// workers that were asked for, until they arrived or the grace period ran out.
    fn leaves_heavy_to_workers(&self, ticket: Ticket, declined_since: &Option<Instant>) -> bool {
        self.always
            && declined_since.is_none_or(|since| since.elapsed() < ALWAYS_GRACE)
            && self.pool.on_their_way(ticket) > 0
    }

    /// Waits until a system finishes after `seen`: spins first (helping with other threads'
    /// data-parallel loops meanwhile), then sleeps.
    fn wait_for_progress(&self, seen: u64, ticket: Ticket) {
        let moved = || self.progress.load(Ordering::Acquire) != seen;
        let deadline = Deadline::after(self.pool.spin());
        let mut looked_at = None;
        while !moved() && !deadline.passed() {
            let epoch = self.pool.help_wanted_epoch();
            if looked_at != Some(epoch) {
                looked_at = Some(epoch);
                if self.pool.help_elsewhere(ticket) {
                    looked_at = None;
                    continue;
                }
            }
            spin_a_little();
        }
        let mut state = self.lock();
        state.driver_sleeping = true;
        while !moved() && !state.finished() {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.driver_sleeping = false;
    }
}

/// Completes a taken system when dropped, also when something between taking and completing
/// unwinds outside the system's own fault catcher: otherwise the step would count it as
/// running forever and the driving thread would wait for it forever.
struct Completion<'t, 's, 'w> {
    task: &'t StepTask<'s, 'w>,
    position: usize,
    ticket: Ticket,
    result: Option<Result<(), NodeFault>>,
}

impl Drop for Completion<'_, '_, '_> {
    fn drop(&mut self) {
        let result = self.result.take().unwrap_or_else(|| {
            Err(NodeFault::Panicked(
                "internal scheduling error: the executor failed while running it".to_owned(),
            ))
        });
        self.task.complete(self.position, result, self.ticket);
    }
}

/// Runs a node on the shared world, timed as the sequential executor times it, counting its
/// entity allocations if asked to.
fn run_shared(
    shared: SharedWorld<'_>,
    node: &mut SystemNode,
    sampling_tick: bool,
) -> Result<(), NodeFault> {
    let allocator = shared.entity_allocator();
    let before = node
        .count_spawns
        .then(|| spawns::allocations(allocator))
        .flatten();
    let start = (node.traced || node.timing.wants_timing(sampling_tick)).then(Instant::now);
    let result = shared.run_node(node);
    if node.count_spawns {
        node.allocated = spawns::allocated_since(before, allocator);
    }
    record(node, result?, start);
    Ok(())
}

#[cfg(test)]
mod tests {
    use bevy_ecs::world::World;

    use super::*;
    use crate::schedule::{Schedule, graph::Step};

    fn independent_step(count: usize) -> (World, Schedule) {
        let mut world = World::new();
        let schedule = Schedule::of_trivial(count, &mut world);
        (world, schedule)
    }

    fn shared_step(schedule: &Schedule) -> &SharedStep {
        match &schedule.graph.steps[0] {
            Step::Shared(step) => step,
            Step::Exclusive { .. } => panic!("a shared step"),
        }
    }

    #[test]
    fn a_panic_between_taking_and_completing_still_completes_the_system() {
        let (mut world, mut schedule) = independent_step(2);
        let step = shared_step(&schedule).clone();
        let pool = WorkerPool::new(0, Duration::ZERO, false).unwrap();
        let guard = crate::schedule::shared_world::AccessGuard::new(
            schedule.nodes[0].schedule.expect("built"),
            schedule.graph.conflicts.clone(),
        );
        let mut scratch = Scratch::default();
        scratch.prepare(&schedule.nodes, &step, |_| false);
        let (dispatch, claimed) = scratch.dispatch(&step);
        let task = StepTask {
            state: Mutex::new(dispatch),
            changed: Condvar::new(),
            progress: AtomicU64::new(0),
            shared: SharedWorld::new(&mut world, &guard),
            slots: NodeSlots::new(&mut schedule.nodes, claimed),
            step: &step,
            pool: &pool,
            sampling_tick: true,
            always: false,
        };
        let position = task.take(Taker::Driver, false, Ticket::UNPOSTED).unwrap();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _completion = Completion {
                task: &task,
                position,
                ticket: Ticket::UNPOSTED,
                result: None,
            };
            panic!("the executor itself fails here");
        }));
        assert!(unwound.is_err());
        assert_eq!(task.lock().running, 0, "nothing left counted as running");
        task.drive(Ticket::UNPOSTED);
        let state = task.state.into_inner().unwrap();
        assert!(
            state.finished(),
            "the step ended instead of waiting forever"
        );
        let failed = state.failures.first.expect("the lost system is reported");
        assert_eq!(failed.index, step.nodes[position]);
    }

    #[test]
    fn every_system_runs_after_a_failure_and_the_lowest_index_is_reported() {
        fn fine() {}
        fn second() {
            panic!("second");
        }
        fn fourth() {
            panic!("fourth");
        }
        let mut world = World::new();
        let mut schedule = Schedule::of((fine, second, fine, fourth), &mut world);
        let mut executor = ParallelExecutor::new(ParallelConfig {
            threads: 3,
            policy: OffloadPolicy::Always,
            ..ParallelConfig::default()
        })
        .unwrap();
        for tick in 0..20 {
            let mut counters = RunCounters::default();
            let failed = schedule
                .run_tick(&mut executor, &mut world, tick, &mut counters)
                .expect("a failure");
            assert_eq!((failed.index, failed.phase), (1, Phase::Run));
        }
        assert_eq!(
            schedule.nodes[2].timing.runs, 20,
            "the system after them ran"
        );
    }
}

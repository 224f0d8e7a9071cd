//! The engine: one tick (swap, collect, run, apply, account) and the loops around it.

use std::{
    ops::ControlFlow,
    time::{Duration, Instant},
};

use bevy_ecs::world::World;

use crate::{
    BuildError, Clock, ComputePool, Event, ExecutorTotals, FixedStep, SimTime, StepPlan, TickError,
    TickStats,
    ingest::Collect,
    queue::WorldEventsExt,
    queue::registry::{QueueEntry, QueueRegistry, registered_queues},
    schedule::{
        Executor, ExecutorKind, FailedSystem, Phase, RunCounters, Schedule, SchedulePlan,
        SystemTiming, config::SystemsConfig, node::NodeFault,
    },
};

/// What [`App::build`](crate::App::build) hands over.
pub(crate) struct EngineParts {
    pub(crate) world: World,
    pub(crate) systems: SystemsConfig,
    pub(crate) startup: SystemsConfig,
    pub(crate) timers: Vec<Box<dyn Collect>>,
    pub(crate) sources: Vec<Box<dyn Collect>>,
    pub(crate) executor: ExecutorKind,
    pub(crate) dt: Duration,
    pub(crate) max_ticks_per_frame: u32,
}

/// What one real-time frame did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameReport {
    /// Ticks run in this frame.
    pub ticks: u32,
    /// Simulation time dropped by the clamp in this frame.
    pub dropped: Duration,
    /// Interpolation factor between the last tick and the next, in `[0, 1)`.
    pub alpha: f64,
    /// Ticks run since the engine was built.
    pub tick_count: u64,
}

/// A built simulation: a bevy_ecs world, its systems, queues and sources, and the loop.
pub struct Engine {
    world: World,
    schedule: Schedule,
    /// Startup systems (kept after they ran: restoring a snapshot taken before they ran
    /// runs them again).
    startup: Option<Schedule>,
    /// Whether the startup systems ran (or the world was restored from after they ran).
    started: bool,
    executor: Box<dyn Executor>,
    queues: Vec<QueueEntry>,
    timers: Vec<Box<dyn Collect>>,
    sources: Vec<Box<dyn Collect>>,
    step: FixedStep,
    tick: u64,
    stats: TickStats,
    totals: ExecutorTotals,
    last_frame: Option<Duration>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("tick", &self.tick)
            .field("systems", &self.schedule.nodes.len())
            .field("threads", &self.threads())
            .field("queues", &self.queues.len())
            .field("sources", &self.sources.len())
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub(crate) fn new(parts: EngineParts) -> Result<Self, BuildError> {
        let EngineParts {
            mut world,
            systems,
            startup,
            timers,
            sources,
            executor,
            dt,
            max_ticks_per_frame,
        } = parts;
        world.insert_resource(SimTime::new(dt));
        let executor = executor.build()?;
        world.insert_resource(executor.compute_pool());
        let startup = (!startup.is_empty())
            .then(|| Schedule::build(startup, &mut world))
            .transpose()?;
        let schedule = Schedule::build(systems, &mut world)?;
        let mut step = FixedStep::new(dt);
        step.set_max_ticks_per_frame(max_ticks_per_frame);
        Ok(Self {
            queues: registered_queues(&world),
            executor,
            world,
            schedule,
            startup,
            started: false,
            timers,
            sources,
            step,
            tick: 0,
            stats: TickStats::default(),
            totals: ExecutorTotals::default(),
            last_frame: None,
        })
    }

    /// Runs one tick: swap the queues, collect sources, run the systems, apply their deferred
    /// work in registration order, account. A failing system does not stop the tick: every
    /// other system still runs and the tick ends as usual; the error names the failed system
    /// with the lowest registration index (see [`TickError`] and the
    /// [`schedule`](crate::schedule) module).
    ///
    /// Before the first tick, the startup systems run once (see [`start`](Self::start)); an
    /// error of theirs is returned for tick 0 instead of running it, and the next call runs
    /// tick 0.
    pub fn tick(&mut self) -> Result<&TickStats, TickError> {
        self.run_startup()?;
        let start = Instant::now();
        self.swap_queues();
        self.collect();
        self.prepare_world();
        let mut counters = RunCounters::default();
        let failed = self.schedule.run_tick(
            self.executor.as_mut(),
            &mut self.world,
            self.tick,
            &mut counters,
        );
        self.account(start, counters);
        let tick = self.tick - 1;
        match failed {
            Some(failed) => Err(self.tick_error(failed, tick)),
            None => Ok(&self.stats),
        }
    }

    /// Runs the startup systems now, if they have not run yet ([`tick`](Self::tick) runs them
    /// itself before tick 0): for a caller that shows or saves the world before the first
    /// tick and wants it as the startup systems left it. Every startup system runs even when
    /// one fails, each one's deferred work applied right after it; the error names the
    /// failed one with the lowest registration index, for tick 0. They run once: a second
    /// call does nothing and returns `Ok`.
    ///
    /// ```
    /// use tickbus::prelude::*;
    ///
    /// #[derive(Resource)]
    /// struct Score(u32);
    ///
    /// let mut app = App::new();
    /// app.add_startup_systems(|mut commands: Commands| commands.insert_resource(Score(3)));
    /// let mut engine = app.build()?;
    /// engine.start()?;
    /// assert_eq!(engine.world().resource::<Score>().0, 3);
    /// assert_eq!(engine.tick_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&mut self) -> Result<(), TickError> {
        self.run_startup()
    }

    /// Runs the startup systems if they have not run yet.
    fn run_startup(&mut self) -> Result<(), TickError> {
        if std::mem::replace(&mut self.started, true) {
            return Ok(());
        }
        // The startup systems may use them too; `tick` prepares the world again after them.
        self.prepare_world();
        let Some(startup) = &mut self.startup else {
            return Ok(());
        };
        startup
            .run_once_applying(&mut self.world)
            .map_err(|failed| tick_error(startup, failed, self.tick))
    }

    /// Whether the startup systems have run (see [`start`](Self::start)); a snapshot records
    /// it, so that restoring one taken before them runs them again.
    pub(crate) fn has_started(&self) -> bool {
        self.started
    }

    /// Sends an event from outside the systems (between ticks, or from code holding the
    /// engine): it is readable during the next tick, after the events that writer systems
    /// sent in the last tick. See [`WorldEventsExt`](crate::WorldEventsExt) for the same
    /// on a `&mut World`.
    pub fn send_event<T: Event>(&mut self, event: T) {
        self.world.send_event(event);
    }

    /// Runs `ticks` ticks as fast as possible (headless: replays, tests, benchmarks), stopping
    /// at the first error.
    pub fn run_ticks(&mut self, ticks: u64) -> Result<(), TickError> {
        for _ in 0..ticks {
            self.tick()?;
        }
        Ok(())
    }

    /// Runs one real-time frame: the time since the last frame (scaled, clamped) becomes
    /// whole ticks. The first frame only starts the clock.
    pub fn frame(&mut self, clock: &impl Clock) -> Result<FrameReport, TickError> {
        let plan = self.begin_frame(clock);
        for _ in 0..plan.ticks {
            self.tick()?;
        }
        Ok(self.frame_report(plan))
    }

    /// The first half of [`frame`](Self::frame), for drivers that run the ticks themselves
    /// (a recorder): reads the clock and says how many ticks this frame runs.
    #[must_use = "the plan says how many ticks to run; dropping it loses them"]
    pub fn begin_frame(&mut self, clock: &impl Clock) -> StepPlan {
        let now = clock.now();
        let frame_time = self
            .last_frame
            .map_or(Duration::ZERO, |last| now.saturating_sub(last));
        self.last_frame = Some(now);
        self.step.advance(frame_time)
    }

    /// The report of a frame planned by [`begin_frame`](Self::begin_frame), once its ticks ran.
    pub fn frame_report(&self, plan: StepPlan) -> FrameReport {
        FrameReport {
            ticks: plan.ticks,
            dropped: plan.dropped,
            alpha: self.step.alpha(),
            tick_count: self.tick,
        }
    }

    /// Runs frames in real time until `on_frame` breaks or a tick fails. `on_frame` is the
    /// render side: it gets the engine and the frame's report (with the interpolation alpha).
    /// Between frames the loop sleeps until the next tick is due, at most one tick length
    /// ([`FixedStep::real_time_until_next_tick`]).
    ///
    /// After a stall (a frame far longer than a tick) the next frame runs at most
    /// `max_ticks_per_frame` ticks and reports the rest as [`FrameReport::dropped`]; the
    /// frames after it are back to normal, so the loop never spirals.
    pub fn run<C: Clock>(
        &mut self,
        clock: &C,
        mut on_frame: impl FnMut(&mut Engine, &FrameReport) -> ControlFlow<()>,
    ) -> Result<(), TickError> {
        loop {
            let report = self.frame(clock)?;
            if on_frame(self, &report).is_break() {
                return Ok(());
            }
            clock.sleep(self.step.real_time_until_next_tick());
        }
    }

    /// The bevy_ecs world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The bevy_ecs world, mutably (between ticks).
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Ticks run since the engine was built (the number of the next tick).
    pub fn tick_count(&self) -> u64 {
        self.tick
    }

    /// Continues at tick `tick` as if the ticks before it had run (a restored snapshot): the
    /// tick counter and [`SimTime`] are set, and the startup systems run before the next
    /// tick exactly when they had not run in the captured world (`started` false).
    pub(crate) fn resume_at_tick(&mut self, tick: u64, started: bool) {
        self.tick = tick;
        self.started = started;
        self.set_sim_time(tick.saturating_sub(1));
    }

    /// Sets [`SimTime`] to `tick`, inserting it again if the user removed it (the engine owns
    /// the simulation time, so it is put back rather than the tick failing).
    fn set_sim_time(&mut self, tick: u64) {
        match self.world.get_resource_mut::<SimTime>() {
            Some(mut time) => time.set_tick(tick),
            None => {
                let mut time = SimTime::new(self.step.dt());
                time.set_tick(tick);
                self.world.insert_resource(time);
            }
        }
    }

    /// Sets [`SimTime`] to the tick about to run and puts the engine's resources back if the
    /// user removed them.
    fn prepare_world(&mut self) {
        self.set_sim_time(self.tick);
        self.ensure_compute_pool();
    }

    /// Puts the engine's [`ComputePool`] back if the user removed it: the event folds and the
    /// physics systems take it as a parameter, and would fail every tick without it. A pool the
    /// user inserted in its place is kept.
    fn ensure_compute_pool(&mut self) {
        if !self.world.contains_resource::<ComputePool>() {
            self.world.insert_resource(self.executor.compute_pool());
        }
    }

    /// The fixed-step accumulator: pause, resume, step, time scale, alpha.
    pub fn fixed_step(&self) -> &FixedStep {
        &self.step
    }

    /// The fixed-step accumulator, mutably.
    pub fn fixed_step_mut(&mut self) -> &mut FixedStep {
        &mut self.step
    }

    /// Counters of the last tick.
    pub fn stats(&self) -> &TickStats {
        &self.stats
    }

    /// The first channel source of event type `T` (to attach a recording tap or a replay feed).
    pub fn source_mut<T: crate::Event>(&mut self) -> Option<&mut crate::InputSource<T>> {
        crate::ingest::find_source(&mut self.sources)
    }

    /// Names of the channel sources, in the order of [`TickStats::sources`].
    pub fn source_names(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|source| source.name())
    }

    /// Per-system timings (last tick and running average), in registration order.
    pub fn system_timings(&self) -> impl Iterator<Item = (&str, SystemTiming)> {
        self.schedule.timings()
    }

    /// Turns system tracing on or off. While it is on every system run is timed and kept
    /// (start, duration, thread) until [`take_system_runs`](Self::take_system_runs); while
    /// it is off (the default) the executors only check a flag per run.
    ///
    /// ```
    /// use tickbus::prelude::*;
    ///
    /// let mut app = App::new();
    /// app.add_systems((|| {}, || {}));
    /// let mut engine = app.build().unwrap();
    /// engine.set_system_tracing(true);
    /// let origin = std::time::Instant::now();
    /// engine.tick().unwrap();
    /// assert_eq!(engine.take_system_runs(origin).len(), 2);
    /// ```
    pub fn set_system_tracing(&mut self, on: bool) {
        self.schedule.set_tracing(on);
    }

    /// The system runs traced since the last call (at most one per system: call it after
    /// every tick to trace each), with start times measured from `origin`.
    pub fn take_system_runs(&mut self, origin: std::time::Instant) -> Vec<crate::SystemRun> {
        self.schedule.take_runs(origin)
    }

    /// The schedule: systems, run order, every edge with its reason, what may overlap.
    pub fn schedule_plan(&self) -> SchedulePlan {
        self.schedule.plan()
    }

    /// Threads that run systems (the driving thread included).
    pub fn threads(&self) -> usize {
        self.executor.threads()
    }

    /// How the systems ran since the engine was built: on worker threads, at the same time.
    pub fn executor_totals(&self) -> ExecutorTotals {
        self.totals
    }

    fn swap_queues(&mut self) {
        if let Some(registry) = self.world.get_resource::<QueueRegistry>()
            && registry.entries.len() != self.queues.len()
        {
            // A queue first used after the engine was built (a `send_event` through the
            // world): swap it from now on.
            self.queues = registry.entries.clone();
        }
        for queue in &self.queues {
            (queue.swap)(&mut self.world);
        }
    }

    fn collect(&mut self) {
        self.stats.timers.clear();
        for timers in &mut self.timers {
            let stats = timers.collect(&mut self.world, self.tick);
            self.stats.timers.push(stats);
        }
        self.stats.sources.clear();
        for source in &mut self.sources {
            let stats = source.collect(&mut self.world, self.tick);
            self.stats.sources.push(stats);
        }
    }

    fn account(&mut self, start: Instant, counters: RunCounters) {
        self.stats.tick = self.tick;
        self.stats.systems_on_workers = counters.on_workers;
        self.stats.peak_running = counters.peak_running;
        self.stats.queues.clear();
        for queue in &self.queues {
            let stats = (queue.finish)(&mut self.world);
            self.stats.queues.push((queue.name, stats));
        }
        self.schedule.check_change_ticks(&mut self.world);
        // bevy keeps a removal record for every despawn and component removal until the
        // trackers are cleared (bevy's own App does this every frame); without it memory
        // grows with every despawn.
        self.world.clear_trackers();
        self.totals.add(&self.stats);
        self.tick += 1;
        self.stats.duration = start.elapsed();
    }

    fn tick_error(&self, failed: FailedSystem, tick: u64) -> TickError {
        tick_error(&self.schedule, failed, tick)
    }
}

/// The error of a failed system of `schedule`.
fn tick_error(schedule: &Schedule, failed: FailedSystem, tick: u64) -> TickError {
    let system = schedule.nodes[failed.index].name.clone();
    match (failed.fault, failed.phase) {
        (NodeFault::Panicked(message), Phase::Apply) => TickError::CommandsPanicked {
            system,
            tick,
            message,
        },
        (NodeFault::Panicked(message), Phase::Run) => TickError::SystemPanicked {
            system,
            tick,
            message,
        },
        (NodeFault::Failed(message), _) => TickError::SystemFailed {
            system,
            tick,
            message,
        },
        (NodeFault::UndeclaredSpawn { entities }, _) => TickError::UndeclaredSpawn {
            system,
            tick,
            entities,
        },
        (NodeFault::UnattributedSpawn { entities, suspects }, _) => TickError::UnattributedSpawn {
            systems: suspects
                .iter()
                .map(|&index| schedule.nodes[index].name.clone())
                .collect(),
            tick,
            entities,
        },
    }
}

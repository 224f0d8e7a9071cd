//! Shared pieces of the tickbus benchmarks (`benches/benches/*.rs`) and of the ratio table
//! (`examples/ratios.rs`).
//!
//! Every benchmark compares tickbus with bevy_ecs's own machinery in the same run, so the
//! helpers here build the same workload for each [`Contender`]: tickbus with its parallel
//! executor on [`TICKBUS_THREADS`] threads (adaptive, as by default), tickbus with its
//! sequential reference executor, and a bevy [`Schedule`] with the single-threaded or the
//! multi-threaded executor (the latter on bevy_tasks' `ComputeTaskPool`, which bevy
//! initialises with one thread per core). The workloads themselves are in [`events`] and
//! [`systems`]; [`cases`] lists them.
//!
//! Run every benchmark with
//! `CARGO_TARGET_DIR=target-bench cargo bench -p tickbus-benches -- --warm-up-time 1 --measurement-time 3`,
//! or the ratio table of the schedule and event cases with
//! `CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --example ratios`.

use std::{
    hint::black_box,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bevy_ecs::{
    schedule::{IntoScheduleConfigs, MultiThreadedExecutor, Schedule, SingleThreadedExecutor},
    system::ScheduleSystem,
    world::World,
};
use tickbus::{App, Engine, ExecutorKind, ExecutorTotals, OffloadPolicy, ParallelConfig};

pub mod cases;
pub mod events;
pub mod systems;

/// Threads of the tickbus parallel executor in every benchmark (this machine has two cores):
/// the driving thread plus one worker.
pub const TICKBUS_THREADS: usize = 2;

/// Frames run before measuring, so tickbus's executor has run-time averages for every
/// system and every buffer has reached its steady-state capacity.
pub const WARM_UP_FRAMES: usize = 300;

/// Who runs a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// tickbus, parallel executor (adaptive) on [`TICKBUS_THREADS`] threads.
    TickbusParallel,
    /// tickbus, sequential reference executor.
    TickbusSequential,
    /// bevy_ecs `Schedule` with `SingleThreadedExecutor`.
    BevySingle,
    /// bevy_ecs `Schedule` with `MultiThreadedExecutor`.
    BevyMulti,
}

impl Contender {
    /// Every contender, in the order the reports list them.
    pub const ALL: [Contender; 4] = [
        Contender::TickbusParallel,
        Contender::TickbusSequential,
        Contender::BevySingle,
        Contender::BevyMulti,
    ];

    /// The name used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Contender::TickbusParallel => "tickbus_par2",
            Contender::TickbusSequential => "tickbus_seq",
            Contender::BevySingle => "bevy_single",
            Contender::BevyMulti => "bevy_multi",
        }
    }

    /// True for the tickbus contenders.
    pub fn is_tickbus(self) -> bool {
        matches!(
            self,
            Contender::TickbusParallel | Contender::TickbusSequential
        )
    }
}

static PIN_WORKERS: AtomicBool = AtomicBool::new(false);
static FORCED: AtomicBool = AtomicBool::new(false);

/// Makes the tickbus parallel contender pin its workers to cores
/// ([`ParallelConfig::pin_workers`]), to compare with the default (unpinned).
pub fn pin_workers(pin: bool) {
    PIN_WORKERS.store(pin, Ordering::Relaxed);
}

/// Makes the tickbus parallel contender offload every system ([`OffloadPolicy::Always`]),
/// to see what parallelism costs where the default declines it.
pub fn force_offloading(forced: bool) {
    FORCED.store(forced, Ordering::Relaxed);
}

/// A tickbus app with the contender's executor (panics for the bevy contenders).
pub fn tickbus_app(contender: Contender) -> App {
    let executor = match contender {
        Contender::TickbusParallel => ExecutorKind::Parallel(ParallelConfig {
            threads: TICKBUS_THREADS,
            pin_workers: PIN_WORKERS.load(Ordering::Relaxed),
            policy: if FORCED.load(Ordering::Relaxed) {
                OffloadPolicy::Always
            } else {
                OffloadPolicy::Adaptive
            },
            ..ParallelConfig::default()
        }),
        Contender::TickbusSequential => ExecutorKind::Sequential,
        other => panic!("{} is not a tickbus contender", other.name()),
    };
    let mut app = App::new();
    app.set_executor(executor);
    app
}

/// An empty bevy schedule with the contender's executor (panics for the tickbus contenders).
pub fn bevy_schedule(contender: Contender) -> Schedule {
    let mut schedule = Schedule::default();
    match contender {
        Contender::BevySingle => schedule.set_executor(SingleThreadedExecutor::default()),
        Contender::BevyMulti => schedule.set_executor(MultiThreadedExecutor::new()),
        other => panic!("{} is not a bevy contender", other.name()),
    };
    schedule
}

/// A bevy world with the schedule that runs it.
pub struct BevySim {
    /// The world.
    pub world: World,
    /// The schedule; one frame is one `Schedule::run`.
    pub schedule: Schedule,
}

impl BevySim {
    /// An empty world and a schedule with the contender's executor.
    pub fn new(contender: Contender) -> Self {
        Self {
            world: World::new(),
            schedule: bevy_schedule(contender),
        }
    }
}

/// A workload under construction, for any contender.
pub enum Builder {
    /// A tickbus app.
    Tickbus(Box<App>),
    /// A bevy world and schedule.
    Bevy(Box<BevySim>),
}

impl Builder {
    /// An empty workload run by `contender`.
    pub fn new(contender: Contender) -> Self {
        if contender.is_tickbus() {
            Builder::Tickbus(Box::new(tickbus_app(contender)))
        } else {
            Builder::Bevy(Box::new(BevySim::new(contender)))
        }
    }

    /// The world, to insert resources and spawn entities.
    pub fn world_mut(&mut self) -> &mut World {
        match self {
            Builder::Tickbus(app) => app.world_mut(),
            Builder::Bevy(bevy) => &mut bevy.world,
        }
    }

    /// Adds systems (unordered unless configured otherwise).
    pub fn add_systems<M>(
        &mut self,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        match self {
            Builder::Tickbus(app) => {
                app.add_systems(systems);
            }
            Builder::Bevy(bevy) => {
                bevy.schedule.add_systems(systems);
            }
        }
        self
    }

    /// Builds the simulation (no frame run yet).
    pub fn build(self) -> Sim {
        match self {
            Builder::Tickbus(app) => Sim::tickbus(*app),
            Builder::Bevy(bevy) => Sim::Bevy(bevy),
        }
    }

    /// Builds the simulation and runs [`WARM_UP_FRAMES`] frames.
    pub fn build_warm(self) -> Sim {
        let mut sim = self.build();
        sim.run(WARM_UP_FRAMES);
        sim
    }
}

/// A built workload: one call to [`frame`](Sim::frame) is one tick of the engine under test.
pub enum Sim {
    /// A tickbus engine; a frame is [`Engine::tick`].
    Tickbus(Box<Engine>),
    /// A bevy world and schedule; a frame is `Schedule::run`.
    Bevy(Box<BevySim>),
}

impl Sim {
    /// Builds a tickbus app into an engine.
    pub fn tickbus(app: App) -> Self {
        Sim::Tickbus(Box::new(app.build().expect("a valid schedule")))
    }

    /// Runs one frame.
    #[inline]
    pub fn frame(&mut self) {
        match self {
            Sim::Tickbus(engine) => {
                engine.tick().expect("benchmark systems never fail");
            }
            Sim::Bevy(bevy) => bevy.schedule.run(&mut bevy.world),
        }
    }

    /// Runs `frames` frames.
    pub fn run(&mut self, frames: usize) {
        for _ in 0..frames {
            self.frame();
        }
    }

    /// How a tickbus engine ran its systems so far (`None` for bevy).
    pub fn executor_totals(&self) -> Option<ExecutorTotals> {
        match self {
            Sim::Tickbus(engine) => Some(engine.executor_totals()),
            Sim::Bevy(_) => None,
        }
    }

    /// The world (to check results after a run).
    pub fn world(&self) -> &World {
        match self {
            Sim::Tickbus(engine) => engine.world(),
            Sim::Bevy(bevy) => &bevy.world,
        }
    }
}

/// A fixed amount of integer work (`iterations` xorshift rounds, a serial dependency chain
/// the optimizer cannot shorten); returns the final state so callers can keep it alive.
#[inline(never)]
pub fn spin(iterations: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..black_box(iterations) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// [`spin`] iterations that take about `duration` on this machine. Calibrated once per
/// process on the fastest of several runs (the least disturbed by other processes).
pub fn spin_iterations(duration: Duration) -> u64 {
    static PER_MICRO: OnceLock<f64> = OnceLock::new();
    let per_micro = *PER_MICRO.get_or_init(calibrate_spin);
    (per_micro * duration.as_secs_f64() * 1e6).round().max(1.0) as u64
}

fn calibrate_spin() -> f64 {
    const ROUNDS: u64 = 2_000_000;
    let fastest = (0..15)
        .map(|_| {
            let start = Instant::now();
            black_box(spin(ROUNDS));
            start.elapsed()
        })
        .min()
        .expect("several runs");
    ROUNDS as f64 / (fastest.as_secs_f64() * 1e6)
}

//! Timedemo: a scenario replayed as a benchmark. The replay is the normal one (every
//! checkpoint verified, a divergence reported); on the way every tick's duration, events per
//! queue and system runs are recorded, and summed up as tick time (median, p99, max), events
//! per type per tick, time per system and how much of each tick ran in parallel.
//!
//! Percentiles are nearest-rank: the p-th percentile of n sorted samples is the sample of
//! rank ⌈p·n⌉ (the median of an even count is the lower middle one), so every figure is a
//! time that a tick or a system really took.

use std::{fmt, time::Duration, time::Instant};

use serde::{Deserialize, Serialize};

use crate::{ChromeTrace, Engine, ExecutorKind, TickStats};

use super::{Game, GameScenario, ReplayError, ReplayReport, Replayer};

/// Replays a scenario of the game `G` as a benchmark.
///
/// ```
/// # use tickbus::prelude::*;
/// # use tickbus::replay::*;
/// # struct Counter;
/// # #[derive(Resource, Default, Clone, Debug)] struct Total(u64);
/// # tickbus::impl_stable_hash!(Total { 0 });
/// # fn add(inputs: EventReader<u64>, mut total: ResMut<Total>) { total.0 += inputs.iter().sum::<u64>(); }
/// # impl Game for Counter {
/// #     const NAME: &'static str = "counter";
/// #     type Config = ();
/// #     type Input = u64;
/// #     fn build(_: &(), app: &mut App) { app.init_resource::<Total>().add_systems(add); }
/// #     fn register_state(hasher: &mut StateHasher) { hasher.resource::<Total>(); }
/// # }
/// let mut recorder = Recorder::<Counter>::builder(()).build()?;
/// recorder.input().send(5)?;
/// recorder.run_ticks(30)?;
/// let scenario = recorder.scenario();
///
/// let report = Timedemo::<Counter>::new(&scenario).trace(true).run()?;
/// assert!(report.replay.is_verified(), "{}", report.replay);
/// assert_eq!(report.records.ticks.len(), 30);
/// let summary = report.records.summary();
/// assert_eq!(summary.systems[0].runs, 30);
/// assert_eq!(report.trace.unwrap().complete_events().count(), 30);
/// println!("{summary}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Timedemo<'a, G: Game> {
    replayer: Replayer<'a, G>,
    trace: bool,
}

impl<G: Game> fmt::Debug for Timedemo<'_, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timedemo")
            .field("replayer", &self.replayer)
            .field("trace", &self.trace)
            .finish()
    }
}

/// What a timedemo measured, and the replay's verdict.
#[derive(Clone, Debug)]
pub struct TimedemoReport {
    /// The replay: checkpoints verified, divergence, crash.
    pub replay: ReplayReport,
    /// Every tick's measurements.
    pub records: TimedemoRecords,
    /// The system runs of every tick as a Chrome trace, when asked for.
    pub trace: Option<ChromeTrace>,
}

/// Every tick's measurements: what `--json` writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimedemoRecords {
    /// The game's name.
    pub game: String,
    /// Threads that ran systems (the driving thread included).
    pub threads: usize,
    /// Event queues (type names), in the order of [`TickRecord::events`].
    pub queues: Vec<String>,
    /// Systems, in registration order (the order of [`TickRecord::systems_ns`]).
    pub systems: Vec<String>,
    /// One record per tick run.
    pub ticks: Vec<TickRecord>,
}

/// One tick of a timedemo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickRecord {
    /// The tick (0 is the first).
    pub tick: u64,
    /// Wall time of the whole tick, in nanoseconds.
    pub duration_ns: u64,
    /// Events readable this tick per queue ([`TimedemoRecords::queues`] order; missing at
    /// the end: a queue first used later, 0).
    pub events: Vec<u64>,
    /// How long each system ran, in nanoseconds (`None`: it did not run this tick).
    pub systems_ns: Vec<Option<u64>>,
    /// Systems that ran on a worker thread.
    pub systems_on_workers: usize,
    /// The most systems running at the same time.
    pub peak_running: usize,
}

/// Median, 99th percentile and maximum of a set of durations (nearest rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spread {
    /// The median (the lower middle sample of an even count).
    pub median: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The longest.
    pub max: Duration,
}

/// Events of one type per tick.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRate {
    /// The event type's name.
    pub name: String,
    /// Mean events readable per tick.
    pub mean: f64,
    /// The most events readable in one tick.
    pub max: u64,
    /// Events readable over all ticks.
    pub total: u64,
}

/// The time one system took per run.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemSpread {
    /// The system's name.
    pub name: String,
    /// Ticks in which it ran.
    pub runs: usize,
    /// Its run times.
    pub time: Spread,
    /// Its time over all runs.
    pub total: Duration,
}

/// How much of the ticks ran in parallel.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Parallelism {
    /// Fraction of ticks in which two or more systems ran at the same time.
    pub ticks_with_overlap: f64,
    /// Mean systems per tick that ran on a worker thread.
    pub mean_systems_on_workers: f64,
    /// Time of all system runs ÷ wall time of all ticks: above 1 only when systems
    /// overlapped; below it the rest of the tick (swap, collect, apply, waiting).
    pub system_time_per_tick_time: f64,
    /// The same share tick by tick, median over the ticks: not swayed by one long tick
    /// (a preempted thread).
    pub median_system_share: f64,
}

/// The figures of a timedemo.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedemoSummary {
    /// The game's name.
    pub game: String,
    /// Threads that ran systems.
    pub threads: usize,
    /// Ticks measured.
    pub ticks: usize,
    /// Wall time per tick.
    pub tick_time: Spread,
    /// Events per type per tick, in queue order.
    pub events: Vec<EventRate>,
    /// Time per system, in registration order.
    pub systems: Vec<SystemSpread>,
    /// How much ran in parallel.
    pub parallelism: Parallelism,
}

impl<'a, G: Game> Timedemo<'a, G> {
    /// A timedemo of `scenario` on the default executor, without a trace.
    pub fn new(scenario: &'a GameScenario<G>) -> Self {
        Self {
            replayer: Replayer::new(scenario),
            trace: false,
        }
    }

    /// Chooses the executor.
    pub fn executor(mut self, executor: ExecutorKind) -> Self {
        self.replayer = self.replayer.executor(executor);
        self
    }

    /// Also keeps every system run as a [`ChromeTrace`] (memory grows with the ticks).
    pub fn trace(mut self, trace: bool) -> Self {
        self.trace = trace;
        self
    }

    /// Replays the scenario, verifying every checkpoint, and measures every tick.
    pub fn run(self) -> Result<TimedemoReport, ReplayError> {
        let mut records = TimedemoRecords {
            game: G::NAME.to_owned(),
            ..TimedemoRecords::default()
        };
        let mut trace = self.trace.then(ChromeTrace::default);
        let origin = Instant::now();
        let replay = self.replayer.run_observed(
            |engine| engine.set_system_tracing(true),
            |engine| {
                if records.ticks.is_empty() {
                    records.describe(engine);
                }
                let runs = engine.take_system_runs(origin);
                records.record_tick(engine.stats(), &runs);
                if let Some(trace) = &mut trace {
                    trace.add_runs(engine.stats().tick, &runs);
                }
            },
        )?;
        Ok(TimedemoReport {
            replay,
            records,
            trace,
        })
    }
}

impl TimedemoRecords {
    /// Takes the engine's thread count and system names.
    fn describe(&mut self, engine: &Engine) {
        self.threads = engine.threads();
        self.systems = engine
            .system_timings()
            .map(|(name, _)| name.to_owned())
            .collect();
    }

    /// Adds the record of one tick from its stats and its traced system runs.
    pub fn record_tick(&mut self, stats: &TickStats, runs: &[crate::SystemRun]) {
        let mut systems_ns = vec![None; self.systems.len()];
        for run in runs {
            if let Some(slot) = systems_ns.get_mut(run.system) {
                *slot = Some(nanos(run.duration));
            }
        }
        let record = TickRecord {
            tick: stats.tick,
            duration_ns: nanos(stats.duration),
            events: self.events_by_queue(stats),
            systems_ns,
            systems_on_workers: stats.systems_on_workers,
            peak_running: stats.peak_running,
        };
        self.ticks.push(record);
    }

    fn events_by_queue(&mut self, stats: &TickStats) -> Vec<u64> {
        let mut events = vec![0; self.queues.len()];
        for (name, queue) in &stats.queues {
            let index = match self.queues.iter().position(|known| known == name) {
                Some(index) => index,
                None => {
                    self.queues.push((*name).to_owned());
                    events.push(0);
                    self.queues.len() - 1
                }
            };
            events[index] = queue.readable as u64;
        }
        events
    }

    /// The figures: tick time, events per type, time per system, parallelism.
    pub fn summary(&self) -> TimedemoSummary {
        let tick_times: Vec<u64> = self.ticks.iter().map(|tick| tick.duration_ns).collect();
        TimedemoSummary {
            game: self.game.clone(),
            threads: self.threads,
            ticks: self.ticks.len(),
            tick_time: Spread::of(tick_times),
            events: self.event_rates(),
            systems: self.system_spreads(),
            parallelism: self.parallelism(),
        }
    }

    fn event_rates(&self) -> Vec<EventRate> {
        let ticks = self.ticks.len().max(1) as f64;
        let per_tick = |queue: usize| {
            self.ticks
                .iter()
                .map(move |tick| tick.events.get(queue).copied().unwrap_or(0))
        };
        (self.queues.iter().enumerate())
            .map(|(queue, name)| {
                let total: u64 = per_tick(queue).sum();
                EventRate {
                    name: name.clone(),
                    mean: total as f64 / ticks,
                    max: per_tick(queue).max().unwrap_or(0),
                    total,
                }
            })
            .collect()
    }

    fn system_spreads(&self) -> Vec<SystemSpread> {
        (self.systems.iter().enumerate())
            .map(|(system, name)| {
                let times: Vec<u64> = (self.ticks.iter())
                    .filter_map(|tick| tick.systems_ns.get(system).copied().flatten())
                    .collect();
                SystemSpread {
                    name: name.clone(),
                    runs: times.len(),
                    total: Duration::from_nanos(times.iter().sum()),
                    time: Spread::of(times),
                }
            })
            .collect()
    }

    fn parallelism(&self) -> Parallelism {
        let ticks = self.ticks.len().max(1) as f64;
        let overlapped = self.ticks.iter().filter(|t| t.peak_running > 1).count();
        let on_workers: usize = self.ticks.iter().map(|t| t.systems_on_workers).sum();
        let system_time: u64 = (self.ticks.iter())
            .flat_map(|tick| tick.systems_ns.iter().flatten())
            .sum();
        let tick_time: u64 = self.ticks.iter().map(|tick| tick.duration_ns).sum();
        let mut shares: Vec<f64> = self.ticks.iter().map(TickRecord::system_share).collect();
        shares.sort_unstable_by(f64::total_cmp);
        Parallelism {
            ticks_with_overlap: overlapped as f64 / ticks,
            mean_systems_on_workers: on_workers as f64 / ticks,
            system_time_per_tick_time: system_time as f64 / tick_time.max(1) as f64,
            median_system_share: nearest_rank(&shares, 50),
        }
    }
}

impl TickRecord {
    /// Time of this tick's system runs ÷ its wall time.
    pub fn system_share(&self) -> f64 {
        let system_time: u64 = self.systems_ns.iter().flatten().sum();
        system_time as f64 / self.duration_ns.max(1) as f64
    }
}

impl Spread {
    /// The spread of `samples` in nanoseconds (all zero when there are none).
    pub fn of(mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        let at = |percent| Duration::from_nanos(nearest_rank(&samples, percent));
        Self {
            median: at(50),
            p99: at(99),
            max: at(100),
        }
    }
}

/// The sample of rank ⌈percent·n/100⌉ of sorted `samples` (0 when empty). Integer
/// arithmetic: `0.99 * 100.0` in floats is not 99.
fn nearest_rank<T: Copy + Default>(samples: &[T], percent: usize) -> T {
    let rank = (samples.len() * percent).div_ceil(100);
    samples.get(rank.max(1) - 1).copied().unwrap_or_default()
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl fmt::Display for TimedemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.parallelism;
        writeln!(
            f,
            "timedemo of {:?}: {} ticks on {} thread(s)",
            self.game, self.ticks, self.threads
        )?;
        writeln!(
            f,
            "\n{:<40} {:>10} {:>10} {:>10}",
            "tick", "median", "p99", "max"
        )?;
        writeln!(f, "{:<40} {}", "wall time", self.tick_time)?;
        writeln!(
            f,
            "\n{:<40} {:>10} {:>10} {:>10}",
            "events per tick", "mean", "max", "total"
        )?;
        for rate in &self.events {
            let name = short_name(&rate.name);
            writeln!(
                f,
                "{name:<40} {:>10.1} {:>10} {:>10}",
                rate.mean, rate.max, rate.total
            )?;
        }
        writeln!(
            f,
            "\n{:<40} {:>10} {:>10} {:>10} {:>6}",
            "system", "median", "p99", "max", "runs"
        )?;
        for system in &self.systems {
            let name = short_name(&system.name);
            writeln!(f, "{name:<40} {} {:>6}", system.time, system.runs)?;
        }
        write!(
            f,
            "\nparallel: {:.1}% of ticks overlapped systems, {:.2} systems/tick on workers, \
             system time / tick time {:.2} (median tick {:.2})",
            p.ticks_with_overlap * 100.0,
            p.mean_systems_on_workers,
            p.system_time_per_tick_time,
            p.median_system_share
        )
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| format!("{:.1}µs", d.as_secs_f64() * 1e6);
        write!(
            f,
            "{:>10} {:>10} {:>10}",
            us(self.median),
            us(self.p99),
            us(self.max)
        )
    }
}

/// A type or system name with every path cut to its last two segments
/// (`tickbus::source::timer::TimerFired<game::events::GameTimer>` →
/// `timer::TimerFired<events::GameTimer>`).
fn short_name(name: &str) -> String {
    let mut short = String::with_capacity(name.len());
    let mut path = String::new();
    for c in name.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            path.push(c);
            continue;
        }
        short.push_str(last_two_segments(&path));
        path.clear();
        short.push(c);
    }
    short.pop();
    short
}

fn last_two_segments(path: &str) -> &str {
    let mut separators = path.rmatch_indices("::").skip(1);
    separators.next().map_or(path, |(at, _)| &path[at + 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_are_samples() {
        let spread = Spread::of((1..=200).rev().collect());
        assert_eq!(spread.median, Duration::from_nanos(100));
        assert_eq!(spread.p99, Duration::from_nanos(198));
        assert_eq!(spread.max, Duration::from_nanos(200));
        assert_eq!(Spread::of(vec![7, 3, 5, 1]).median, Duration::from_nanos(3));
        let odd = Spread::of(vec![30, 10, 20]);
        assert_eq!((odd.median, odd.p99), (Duration::from_nanos(20), odd.max));
        assert_eq!(Spread::of((1..=10).collect()).p99, Duration::from_nanos(10));
        assert_eq!(
            Spread::of((1..=1000).collect()).p99,
            Duration::from_nanos(990)
        );
        assert_eq!(Spread::of(Vec::new()), Spread::default());
    }

    #[test]
    fn names_keep_their_last_two_segments() {
        assert_eq!(
            short_name("tickbus::source::timer::TimerFired<game::events::GameTimer>"),
            "timer::TimerFired<events::GameTimer>"
        );
        assert_eq!(short_name("a::b::c"), "b::c");
        assert_eq!(short_name("step"), "step");
    }
}

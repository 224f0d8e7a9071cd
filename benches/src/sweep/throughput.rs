//! The throughput sweep: one point per (events per frame, event size); at each point tickbus
//! (readers as [`EventReader`](tickbus::EventReader) systems, and as event folds), bevy's
//! `Messages` under both of its executors and a raw reused `Vec` run the same writers and
//! readers (see [`crate::events`]).

use std::{cell::RefCell, rc::Rc};

use serde::{Deserialize, Serialize};
use tickbus::{ExecutorKind, OffloadPolicy, ParallelConfig};

use super::{
    measure::{Contestant, Sampling, sample_interleaved},
    report::{Point, RatioSpec},
};
use crate::{
    BevySim, Contender, Sim,
    events::{
        BenchEvent, Payload, Payload64, RawVec, Shape, TickbusWorkload, add_bevy_workload,
        add_tickbus_fold_workload, add_tickbus_workload, tickbus_sim, warm_and_check,
    },
};

/// The tickbus contender's name: its readers are `EventReader` systems.
pub const TICKBUS: &str = "tickbus";
/// tickbus with its readers as event folds (`App::add_event_fold`), on the same executor.
pub const TICKBUS_FOLD: &str = "tickbus_fold";
/// bevy `Messages` under the single-threaded executor.
pub const BEVY_SINGLE: &str = "bevy_single";
/// bevy `Messages` under the multi-threaded executor.
pub const BEVY_MULTI: &str = "bevy_multi";
/// The floor: a reused `Vec` filled by `extend` and read once per reader.
pub const RAW_EXTEND: &str = "raw_extend";
/// With `--also-offload-always`: tickbus on the tickbus contender's parallel executor settings
/// with [`OffloadPolicy::Always`], to see what the adaptive policy chose against.
pub const TICKBUS_ALWAYS: &str = "tickbus_always";

/// Event sizes the sweep knows, in bytes.
pub const EVENT_BYTES: [usize; 2] = [16, 64];

/// Which tickbus executor runs the tickbus contender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TickbusExecutor {
    /// The default: the parallel executor with its default thread count.
    #[default]
    Default,
    /// The parallel executor with this many threads (the driving one included).
    Parallel(usize),
    /// The sequential reference executor.
    Sequential,
}

impl TickbusExecutor {
    /// The executor setting of the app.
    pub fn kind(self) -> ExecutorKind {
        match self {
            TickbusExecutor::Default => ExecutorKind::default(),
            TickbusExecutor::Parallel(threads) => ExecutorKind::parallel(threads),
            TickbusExecutor::Sequential => ExecutorKind::Sequential,
        }
    }

    /// How the table header describes it.
    pub fn describe(self) -> String {
        match self.kind() {
            ExecutorKind::Sequential => "sequential executor".to_owned(),
            ExecutorKind::Parallel(config) => format!(
                "parallel executor, {} thread{}{}",
                config.threads,
                if config.threads == 1 { "" } else { "s" },
                if self == TickbusExecutor::Default {
                    " (default)"
                } else {
                    ""
                }
            ),
        }
    }
}

/// What the throughput sweep measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// Events written per frame, one point each.
    pub events_per_frame: Vec<usize>,
    /// Event sizes in bytes (16 or 64), one point each.
    pub event_bytes: Vec<usize>,
    /// Writer systems of the event type.
    pub writers: usize,
    /// Reader systems of the event type.
    pub readers: usize,
    /// The tickbus executor.
    pub executor: TickbusExecutor,
    /// Also measure [`TICKBUS_ALWAYS`] (on the parallel executor only: with the sequential
    /// one there is no offloading to compare).
    #[serde(default)]
    pub also_offload_always: bool,
    /// Rounds and sample length.
    pub sampling: Sampling,
}

impl SweepConfig {
    /// Every point of the sweep, as (events per frame, event bytes), sizes outermost.
    pub fn points(&self) -> Vec<(usize, usize)> {
        self.event_bytes
            .iter()
            .flat_map(|&bytes| self.events_per_frame.iter().map(move |&n| (n, bytes)))
            .collect()
    }
}

/// Both bevy executors as one side of a ratio: the faster of them in each round.
pub(crate) const BEST_BEVY: &str = "bevy_single|bevy_multi";

/// The ratios of the throughput table: bevy's time over tickbus's and over tickbus with folds
/// (how many times faster tickbus is; "best bevy": the faster bevy executor of each round),
/// both tickbus forms' times over the raw floor's, and tickbus's over tickbus with folds.
/// With `also_offload_always`, also tickbus's time over [`TICKBUS_ALWAYS`]'s.
pub fn ratio_specs(also_offload_always: bool) -> Vec<RatioSpec> {
    let mut specs = vec![
        RatioSpec::new("bevy_single ÷ tickbus", BEVY_SINGLE, TICKBUS),
        RatioSpec::new("bevy_multi ÷ tickbus", BEVY_MULTI, TICKBUS),
        RatioSpec::new("best bevy ÷ tickbus", BEST_BEVY, TICKBUS),
        RatioSpec::new("best bevy ÷ tickbus_fold", BEST_BEVY, TICKBUS_FOLD),
        RatioSpec::new("tickbus ÷ raw_extend", TICKBUS, RAW_EXTEND),
        RatioSpec::new("tickbus_fold ÷ raw_extend", TICKBUS_FOLD, RAW_EXTEND),
        RatioSpec::new("tickbus ÷ tickbus_fold", TICKBUS, TICKBUS_FOLD),
    ];
    if also_offload_always {
        specs.push(RatioSpec::new(
            "tickbus ÷ tickbus_always",
            TICKBUS,
            TICKBUS_ALWAYS,
        ));
    }
    specs
}

/// Measures one point: builds, warms up and checks every contender, then samples them
/// interleaved.
pub fn measure_point(
    config: &SweepConfig,
    events: usize,
    bytes: usize,
    after_round: impl FnMut(),
) -> Point {
    let shape = Shape {
        events,
        writers: config.writers,
        readers: config.readers,
    };
    let mut contestants = match bytes {
        16 => contestants::<Payload>(config, shape),
        64 => contestants::<Payload64>(config, shape),
        other => panic!("event size {other} is not one of {EVENT_BYTES:?}"),
    };
    let samples = sample_interleaved(&mut contestants, config.sampling, after_round);
    Point {
        events_per_frame: events,
        event_bytes: bytes,
        writers: config.writers,
        readers: config.readers,
        producers: None,
        samples,
    }
}

/// The two tickbus contenders and how each builds its readers.
fn tickbus_forms<E: BenchEvent>() -> [(&'static str, TickbusWorkload); 2] {
    [
        (TICKBUS, add_tickbus_workload::<E>),
        (TICKBUS_FOLD, add_tickbus_fold_workload::<E>),
    ]
}

pub(crate) fn contestants<E: BenchEvent>(config: &SweepConfig, shape: Shape) -> Vec<Contestant> {
    let executor = config.executor.kind();
    let [tickbus, fold] = tickbus_forms::<E>()
        .map(|(name, workload)| tickbus_contestant::<E>(name, executor, shape, workload));
    let bevy = |contender| {
        let mut bevy = BevySim::new(contender);
        add_bevy_workload::<E>(&mut bevy, shape);
        let mut sim = Sim::Bevy(Box::new(bevy));
        warm_and_check::<E>(&mut sim, shape, false);
        sim
    };
    let mut bevy_single = bevy(Contender::BevySingle);
    let mut bevy_multi = bevy(Contender::BevyMulti);
    let mut raw = RawVec::<E>::with_shape(shape);
    let mut contestants = vec![
        tickbus,
        fold,
        Contestant::new(BEVY_SINGLE, move || bevy_single.frame()),
        Contestant::new(BEVY_MULTI, move || bevy_multi.frame()),
        Contestant::new(RAW_EXTEND, move || raw.frame()),
    ];
    if let (true, ExecutorKind::Parallel(parallel)) = (config.also_offload_always, executor) {
        // The same threads as the tickbus contender, every system offloaded: what the
        // adaptive policy's choice is compared with.
        let always = ExecutorKind::Parallel(ParallelConfig {
            policy: OffloadPolicy::Always,
            ..parallel
        });
        contestants.push(tickbus_contestant::<E>(
            TICKBUS_ALWAYS,
            always,
            shape,
            add_tickbus_workload::<E>,
        ));
    }
    contestants
}

/// A tickbus engine with `workload` on `executor`, warmed up and checked, reporting how its
/// executor ran the sampled ticks.
fn tickbus_contestant<E: BenchEvent>(
    name: &str,
    executor: ExecutorKind,
    shape: Shape,
    workload: TickbusWorkload,
) -> Contestant {
    let sim = Rc::new(RefCell::new(tickbus_sim::<E>(executor, shape, workload)));
    let totals = Rc::clone(&sim);
    Contestant::new(name, move || sim.borrow_mut().frame()).with_executor(move || {
        totals
            .borrow()
            .executor_totals()
            .expect("a tickbus contender")
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    pub(crate) fn small_config(also_offload_always: bool) -> SweepConfig {
        SweepConfig {
            events_per_frame: vec![1_000],
            event_bytes: vec![16],
            writers: 1,
            readers: 2,
            executor: TickbusExecutor::Default,
            also_offload_always,
            sampling: Sampling {
                rounds: 1,
                frames: Some(1),
                sample_time: Duration::ZERO,
            },
        }
    }

    /// Panics unless every contender named on either side of every ratio is measured.
    pub(crate) fn assert_every_ratio_is_measured(specs: &[RatioSpec], measured: &[Contestant]) {
        let names: Vec<&str> = measured.iter().map(|c| c.name.as_str()).collect();
        for spec in specs {
            for name in spec.numerator.split('|').chain([spec.denominator.as_str()]) {
                assert!(
                    names.contains(&name),
                    "{}: {name} not in {names:?}",
                    spec.label
                );
            }
        }
    }

    #[test]
    fn both_tickbus_forms_are_measured_with_executor_totals_and_every_ratio_names_a_contender() {
        for also_offload_always in [false, true] {
            let config = small_config(also_offload_always);
            let shape = Shape {
                events: 1_000,
                writers: 1,
                readers: 2,
            };
            let measured = contestants::<Payload>(&config, shape);
            let names: Vec<&str> = measured.iter().map(|c| c.name.as_str()).collect();
            let mut expected = vec![TICKBUS, TICKBUS_FOLD, BEVY_SINGLE, BEVY_MULTI, RAW_EXTEND];
            if also_offload_always {
                expected.push(TICKBUS_ALWAYS);
            }
            assert_eq!(names, expected);
            let tickbus_forms = measured.iter().filter(|c| c.executor.is_some()).count();
            assert_eq!(
                tickbus_forms,
                expected.len() - 3,
                "executor totals of each tickbus"
            );
            assert_every_ratio_is_measured(&ratio_specs(also_offload_always), &measured);
        }
    }

    #[test]
    fn only_the_fold_contender_reads_through_event_folds() {
        let shape = Shape {
            events: 1_000,
            writers: 1,
            readers: 2,
        };
        for (name, workload) in tickbus_forms::<Payload>() {
            let Sim::Tickbus(engine) =
                tickbus_sim::<Payload>(ExecutorKind::Sequential, shape, workload)
            else {
                panic!("{name}: a tickbus engine");
            };
            let folds = engine
                .system_timings()
                .any(|(system, _)| system.contains("event folds of"));
            assert_eq!(folds, name == TICKBUS_FOLD, "{name}");
        }
    }
}

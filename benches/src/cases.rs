//! Every case of the `schedule` and `event_throughput` benchmarks, as data: the criterion
//! benches and the ratio table (`examples/ratios.rs`) measure the same workloads.

use std::time::{Duration, Instant};

use crate::{
    Contender, Sim,
    events::{READERS, SIZES, event_sim},
    systems::{BUSY, Overhead, SYSTEM_COUNTS, busy_sim, ecs_bench_suite_sim, overhead_sim},
};

/// One workload, buildable for every contender.
pub struct Case {
    /// The criterion group, e.g. `schedule_busy/4x100us`.
    pub group: String,
    /// Elements per frame for criterion's throughput (systems or events), if any.
    pub elements: Option<u64>,
    /// Builds the warmed-up workload for a contender.
    pub build: Box<dyn Fn(Contender) -> Sim>,
}

impl Case {
    fn new(
        group: String,
        elements: Option<u64>,
        build: impl Fn(Contender) -> Sim + 'static,
    ) -> Self {
        Self {
            group,
            elements,
            build: Box::new(build),
        }
    }
}

/// The cases of `benches/schedule.rs`: overhead, busy systems, ecs_bench_suite.
pub fn schedule_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in [Overhead::Independent, Overhead::Conflicting] {
        for count in SYSTEM_COUNTS {
            cases.push(Case::new(
                format!("schedule_overhead/{}/{count}", kind.name()),
                Some(count as u64),
                move |contender| overhead_sim(contender, kind, count),
            ));
        }
    }
    for (count, micros) in BUSY {
        cases.push(Case::new(
            format!("schedule_busy/{count}x{micros}us"),
            None,
            move |contender| busy_sim(contender, count, Duration::from_micros(micros)),
        ));
    }
    cases.push(Case::new(
        "schedule_ecs_bench_suite".to_owned(),
        None,
        ecs_bench_suite_sim,
    ));
    cases
}

/// The cases of `benches/event_throughput.rs`: one writer, 1 to 4 readers, 1k to 1M events.
pub fn event_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for readers in READERS {
        for size in SIZES {
            cases.push(Case::new(
                format!("event_throughput/{readers}_readers/{size}"),
                Some(size as u64),
                move |contender| event_sim(contender, readers, size),
            ));
        }
    }
    cases
}

/// Frame times of every contender on one case (one per round, sorted), measured in
/// interleaved rounds (each round times every contender once, in a rotating order), so that
/// a disturbance of the machine hits all of them alike.
pub fn interleaved_samples(
    case: &Case,
    rounds: usize,
    sample: Duration,
) -> Vec<(Contender, Vec<Duration>)> {
    let mut sims: Vec<(Contender, Sim, usize, Vec<Duration>)> = Contender::ALL
        .into_iter()
        .map(|contender| {
            let mut sim = (case.build)(contender);
            let frames = frames_per_sample(&mut sim, sample);
            (contender, sim, frames, Vec::with_capacity(rounds))
        })
        .collect();
    for round in 0..rounds {
        let count = sims.len();
        for offset in 0..count {
            let (_, sim, frames, times) = &mut sims[(round + offset) % count];
            let start = Instant::now();
            sim.run(*frames);
            times.push(start.elapsed() / *frames as u32);
        }
    }
    sims.into_iter()
        .map(|(contender, _, _, mut times)| {
            times.sort_unstable();
            (contender, times)
        })
        .collect()
}

/// Frames that take about `sample` (at least one).
fn frames_per_sample(sim: &mut Sim, sample: Duration) -> usize {
    let start = Instant::now();
    sim.run(5);
    let per_frame = start.elapsed() / 5;
    (sample.as_nanos() / per_frame.as_nanos().max(1)).clamp(1, 100_000) as usize
}

//! Interleaved sampling: each round times every contender once, in a rotating order, so a
//! disturbance of the machine (another process waking up) hits all of them alike.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tickbus::ExecutorTotals;

/// One contender of a point: a name and a closure that runs one frame of its workload.
pub struct Contestant {
    /// The name in the table, the JSON file and the plot.
    pub name: String,
    /// Runs one frame.
    pub frame: Box<dyn FnMut()>,
    /// For a tickbus contender: how its executor ran the systems so far.
    pub executor: Option<Box<dyn Fn() -> ExecutorTotals>>,
}

impl Contestant {
    /// A named contender.
    pub fn new(name: impl Into<String>, frame: impl FnMut() + 'static) -> Self {
        Self {
            name: name.into(),
            frame: Box::new(frame),
            executor: None,
        }
    }

    /// The same, with the executor's running totals, so the samples say how much of the
    /// sampled ticks ran in parallel.
    pub fn with_executor(mut self, totals: impl Fn() -> ExecutorTotals + 'static) -> Self {
        self.executor = Some(Box::new(totals));
        self
    }
}

/// How a tickbus executor ran the sampled frames of one contender (the trial run that sizes
/// the samples is not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorShare {
    /// Ticks sampled.
    pub ticks: u64,
    /// Of those, ticks in which two or more systems ran at the same time.
    pub ticks_with_overlap: u64,
    /// Systems run on worker threads during those ticks.
    pub systems_on_workers: u64,
}

impl ExecutorShare {
    /// What happened between two readings of the running totals.
    pub fn between(before: ExecutorTotals, after: ExecutorTotals) -> Self {
        Self {
            ticks: after.ticks - before.ticks,
            ticks_with_overlap: after.ticks_with_overlap - before.ticks_with_overlap,
            systems_on_workers: after.systems_on_workers - before.systems_on_workers,
        }
    }

    /// The share of sampled ticks in which systems overlapped, in percent.
    pub fn overlapped_percent(&self) -> f64 {
        100.0 * self.ticks_with_overlap as f64 / self.ticks.max(1) as f64
    }

    /// Systems per sampled tick that ran on a worker thread.
    pub fn on_workers_per_tick(&self) -> f64 {
        self.systems_on_workers as f64 / self.ticks.max(1) as f64
    }
}

/// Every sample of one contender at one point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    /// The contender's name.
    pub name: String,
    /// Frames timed together in one sample; 0 for a row computed from other rows, not run
    /// (`bound_par` of `--roofline`).
    pub frames_per_sample: usize,
    /// Nanoseconds per frame of each sample, in round order (round `r` of every contender of
    /// a point ran in the same interleaved round).
    pub ns_per_frame: Vec<f64>,
    /// For a tickbus contender: how its executor ran the sampled frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorShare>,
}

/// How long and how often to sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampling {
    /// Interleaved rounds per point (samples per contender).
    pub rounds: usize,
    /// Frames per sample; `None`: as many as take `sample_time`.
    pub frames: Option<usize>,
    /// The target length of a sample when `frames` is `None`.
    pub sample_time: Duration,
}

/// Samples every contender in `rounds` interleaved rounds; `after_round` is called once per
/// round (progress).
pub fn sample_interleaved(
    contestants: &mut [Contestant],
    sampling: Sampling,
    mut after_round: impl FnMut(),
) -> Vec<Samples> {
    let mut samples: Vec<Samples> = contestants
        .iter_mut()
        .map(|contestant| Samples {
            name: contestant.name.clone(),
            frames_per_sample: sampling
                .frames
                .unwrap_or_else(|| frames_for(&mut contestant.frame, sampling.sample_time))
                .max(1),
            ns_per_frame: Vec::with_capacity(sampling.rounds),
            executor: None,
        })
        .collect();
    let totals = |contestant: &Contestant| contestant.executor.as_ref().map(|totals| totals());
    let before: Vec<Option<ExecutorTotals>> = contestants.iter().map(totals).collect();
    let count = contestants.len();
    for round in 0..sampling.rounds {
        for offset in 0..count {
            let index = (round + offset) % count;
            let frames = samples[index].frames_per_sample;
            let time = time_frames(&mut contestants[index].frame, frames);
            samples[index]
                .ns_per_frame
                .push(time.as_nanos() as f64 / frames as f64);
        }
        after_round();
    }
    for ((sample, contestant), before) in samples.iter_mut().zip(&*contestants).zip(before) {
        sample.executor = before
            .zip(totals(contestant))
            .map(|(before, after)| ExecutorShare::between(before, after));
    }
    samples
}

fn time_frames(frame: &mut dyn FnMut(), frames: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..frames {
        frame();
    }
    start.elapsed()
}

/// Frames that take about `target` (at least one), from a short trial run.
fn frames_for(frame: &mut dyn FnMut(), target: Duration) -> usize {
    let trial = 3;
    let per_frame = time_frames(frame, trial) / trial as u32;
    (target.as_nanos() / per_frame.as_nanos().max(1)).clamp(1, 1_000_000) as usize
}

#[cfg(test)]
mod tests {
    use std::{cell::Cell, rc::Rc};

    use super::*;

    #[test]
    fn every_contender_gets_one_sample_per_round_of_the_frames_asked() {
        let counts: Vec<Rc<Cell<usize>>> = (0..3).map(|_| Rc::default()).collect();
        let mut contestants: Vec<Contestant> = counts
            .iter()
            .enumerate()
            .map(|(i, count)| {
                let count = count.clone();
                Contestant::new(format!("c{i}"), move || count.set(count.get() + 1))
            })
            .collect();
        let mut rounds_seen = 0;
        let sampling = Sampling {
            rounds: 5,
            frames: Some(7),
            sample_time: Duration::ZERO,
        };
        let samples = sample_interleaved(&mut contestants, sampling, || rounds_seen += 1);
        assert_eq!(rounds_seen, 5);
        for (sample, count) in samples.iter().zip(&counts) {
            assert_eq!(sample.ns_per_frame.len(), 5);
            assert_eq!(sample.frames_per_sample, 7);
            assert_eq!(count.get(), 35);
        }
        assert_eq!(samples[2].name, "c2");
        assert!(samples.iter().all(|sample| sample.executor.is_none()));
    }

    #[test]
    fn the_executor_share_counts_the_sampled_frames_only() {
        let ticks = Rc::new(Cell::new(0u64));
        let counter = ticks.clone();
        let reader = ticks.clone();
        // Every third tick overlaps, with two systems on workers.
        let mut contestants = vec![
            Contestant::new("t", move || counter.set(counter.get() + 1)).with_executor(move || {
                ExecutorTotals {
                    ticks: reader.get(),
                    ticks_with_overlap: reader.get() / 3,
                    systems_on_workers: 2 * (reader.get() / 3),
                    peak_running: 2,
                }
            }),
        ];
        let sampling = Sampling {
            rounds: 4,
            frames: None,
            sample_time: Duration::ZERO,
        };
        let samples = sample_interleaved(&mut contestants, sampling, || {});
        // The trial ran 3 frames, then 4 rounds of 1 frame: ticks 3..7 are sampled.
        assert_eq!(ticks.get(), 7);
        let share = samples[0]
            .executor
            .expect("a tickbus contender has a share");
        assert_eq!(
            share,
            ExecutorShare {
                ticks: 4,
                ticks_with_overlap: 1,
                systems_on_workers: 2,
            }
        );
        assert_eq!(share.overlapped_percent(), 25.0);
        assert_eq!(share.on_workers_per_tick(), 0.5);
    }
}

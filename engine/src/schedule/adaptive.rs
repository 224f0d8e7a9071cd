//! How the parallel executor decides, per step, whether handing systems to workers pays.
//!
//! Two questions, the cheap one first:
//!
//! 1. **Could it pay at all?** From the systems' average run times and the workers' measured
//!    wake-up latency: only systems of at least `offload_min` that may leave the driving
//!    thread are worth a worker, and the step cannot beat its longest chain of dependent
//!    systems nor its total work divided by the threads. If that best case saves less than a
//!    tenth of the inline time, or less than waking a worker takes, the step runs inline and
//!    nothing is measured. Recomputed on sampling ticks, when every system has fresh timings
//!    (for a step that could not pay on four of them in a row, on every fourth: the answer
//!    reads every system's timing, and the inline path should cost what the sequential
//!    executor costs).
//! 2. **Does it pay here?** A step that passes is measured both ways, a few ticks each, then
//!    run the way that was faster (inline unless parallel is at least 3% faster). The other
//!    way is tried again (two ticks, whose figures replace the old ones) to follow changes in
//!    the workload: after 16 ticks, and twice as long after each try that confirms the choice,
//!    up to 256 ticks — and never so often that the tries of a losing way cost more than 1% of
//!    the step's time (a way ten times slower is tried every 1,800 ticks). So wake-up latency,
//!    cold caches on the worker's core and lock traffic are all in the figures that decide,
//!    and the tries keep the cost of a wrong way within a percent once the choice is clear.

use std::time::Duration;

use super::{graph::SharedStep, node::SystemNode};

/// Samples each way needs before the comparison starts (few: on a busy machine one parallel
/// tick can cost a hundred inline ones).
const WARM_UP_SAMPLES: u32 = 2;
/// Ticks between tries of the other way, at first and at most.
const FIRST_PROBE_GAP: u32 = 16;
const LAST_PROBE_GAP: u32 = 256;
/// The most the tries of a losing way may cost, as a fraction of the step's time (1%).
const PROBE_BUDGET_PER_MILLE: u64 = 10;
/// The longest gap the budget may ask for.
const LONGEST_PROBE_GAP: u32 = 1 << 14;
/// Ticks in one try of the other way.
const PROBE_TICKS: u32 = 2;
/// A try whose slowest tick took more than this many times its fastest is noisy.
const NOISY_TRY: u64 = 4;
/// The longest gap after a noisy try.
const NOISY_TRY_LONGEST_GAP: u32 = 4 * LAST_PROBE_GAP;
/// A step judged unable to pay on this many sampling ticks in a row is from then on judged
/// again on every this many sampling ticks only (every 64 ticks): judging reads every
/// system's timing, which for a step of a thousand trivial systems costs about a percent of
/// its time when done on every sampling tick. The first judgements of a step all happen, so
/// a step whose systems were not timed yet (its first tick) is not put off; but a step whose
/// systems were switched off by run conditions for a while (a menu, a paused game state)
/// counts as declining, and may wait up to 64 ticks before it is offloaded again.
const REJUDGE_DECLINED_EVERY: u32 = 4;

/// Inline or handed to workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Way {
    Inline,
    Parallel,
}

/// A moving average of a step's wall time one way, and its best and worst samples since the
/// figures were last replaced (the ticks of the way's latest try).
#[derive(Clone, Copy, Debug, Default)]
struct Average {
    nanos: u64,
    samples: u32,
    best: u64,
    worst: u64,
}

impl Average {
    /// Forgets the old figures: `elapsed` is the average now.
    fn replace(&mut self, elapsed: Duration) {
        self.nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        (self.best, self.worst) = (self.nanos, self.nanos);
        self.samples = self.samples.saturating_add(1);
    }

    /// Adds a sample with weight `1/weight`, capped at `cap` × the average (0: uncapped).
    fn add(&mut self, elapsed: Duration, weight: u64, cap: u64) {
        let sample = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.note_extremes(sample);
        self.nanos = if self.samples == 0 {
            sample
        } else {
            let capped = match cap {
                0 => sample,
                cap => sample.min(self.nanos.saturating_mul(cap)),
            };
            (self.nanos.saturating_mul(weight - 1) + capped) / weight
        };
        self.samples = self.samples.saturating_add(1);
    }

    /// Keeps the smaller of the average and `elapsed`.
    fn keep_lower(&mut self, elapsed: Duration) {
        let sample = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.nanos = self.nanos.min(sample);
        self.note_extremes(sample);
        self.samples = self.samples.saturating_add(1);
    }

    fn note_extremes(&mut self, sample: u64) {
        (self.best, self.worst) = if self.samples == 0 {
            (sample, sample)
        } else {
            (self.best.min(sample), self.worst.max(sample))
        };
    }

    /// The latest try's ticks disagree by more than [`NOISY_TRY`]: one of them was
    /// disturbed (a preemption), so its figures are a poor guide for long.
    fn noisy(&self) -> bool {
        self.worst > self.best.saturating_mul(NOISY_TRY)
    }
}

/// What the executor knows about one step.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepChoice {
    could_pay: bool,
    inline: Average,
    parallel: Average,
    probe_gap: u32,
    until_probe: u32,
    /// Ticks left in the current try of the other way (0: not trying).
    probing: u32,
    /// The way favoured when the current try began.
    favoured_before_probe: Option<Way>,
    /// Sampling ticks in a row on which the step could not pay.
    declined_samplings: u32,
}

impl StepChoice {
    /// Whether this tick re-answers question 1: every sampling tick (every system timed),
    /// except for a step that could not pay on the last [`REJUDGE_DECLINED_EVERY`] of them,
    /// which is judged on every [`REJUDGE_DECLINED_EVERY`]th only.
    pub(crate) fn rejudges(&mut self, sampling_tick: bool) -> bool {
        if !sampling_tick {
            return false;
        }
        if self.could_pay {
            return true;
        }
        self.declined_samplings = self.declined_samplings.saturating_add(1);
        if self.declined_samplings > 2 * REJUDGE_DECLINED_EVERY {
            // Kept within (EVERY, 2 × EVERY] in the same phase: a count that stopped at its
            // largest value would never be a multiple again, and the step never judged.
            self.declined_samplings -= REJUDGE_DECLINED_EVERY;
        }
        self.declined_samplings <= REJUDGE_DECLINED_EVERY
            || self
                .declined_samplings
                .is_multiple_of(REJUDGE_DECLINED_EVERY)
    }

    /// Re-answers "could it pay at all" (question 1 of the module docs).
    /// What was measured stays when the answer flips: a step near the line would otherwise
    /// pay for its warm-up again and again.
    pub(crate) fn reconsider(&mut self, could_pay: bool) {
        if could_pay && self.probe_gap == 0 {
            self.probe_gap = FIRST_PROBE_GAP;
            self.until_probe = FIRST_PROBE_GAP;
        }
        if could_pay {
            self.declined_samplings = 0;
        }
        self.could_pay = could_pay;
    }

    /// The way to run the step this tick; `None` when it runs inline unmeasured.
    pub(crate) fn choose(&mut self) -> Option<Way> {
        if !self.could_pay {
            return None;
        }
        if self.parallel.samples < WARM_UP_SAMPLES {
            return Some(Way::Parallel);
        }
        if self.inline.samples < WARM_UP_SAMPLES {
            return Some(Way::Inline);
        }
        if let Some(favoured) = self.favoured_before_probe {
            return Some(other(favoured));
        }
        if self.until_probe == 0 {
            let favoured = self.favoured();
            self.favoured_before_probe = Some(favoured);
            self.probing = PROBE_TICKS;
            return Some(other(favoured));
        }
        self.until_probe -= 1;
        Some(self.favoured())
    }

    /// Records how long the step took `way`.
    pub(crate) fn record(&mut self, way: Way, elapsed: Duration) {
        let probing = self.probing;
        let average = match way {
            Way::Inline => &mut self.inline,
            Way::Parallel => &mut self.parallel,
        };
        // The figures lean towards inline, the safe way: a slow inline tick is the machine's
        // doing (one preemption is capped, and of a try's ticks the faster counts), while a
        // slow parallel tick may be the cost of parallelism itself (nothing is capped).
        match (probing, way) {
            (0, Way::Inline) => average.add(elapsed, 8, 4),
            (0, Way::Parallel) => average.add(elapsed, 8, 0),
            // A try's figures replace the old ones: those may be hundreds of ticks old.
            (PROBE_TICKS, _) => average.replace(elapsed),
            (_, Way::Inline) => average.keep_lower(elapsed),
            (_, Way::Parallel) => average.add(elapsed, 2, 0),
        }
        if probing > 0 {
            self.probing -= 1;
            if self.probing == 0 {
                self.end_probe();
            }
        } else if self.warmed_up_just_now(way) {
            // The first comparison: the budget may already ask for a long gap.
            self.probe_gap = FIRST_PROBE_GAP.max(self.gap_within_budget());
            self.until_probe = self.probe_gap;
        }
    }

    /// True when this sample of `way` completed the warm-up of both ways.
    fn warmed_up_just_now(&self, way: Way) -> bool {
        let (this, that) = match way {
            Way::Inline => (self.inline.samples, self.parallel.samples),
            Way::Parallel => (self.parallel.samples, self.inline.samples),
        };
        this == WARM_UP_SAMPLES && that >= WARM_UP_SAMPLES
    }

    /// After a try: back off if it confirmed the choice, look again soon if it changed it.
    fn end_probe(&mut self) {
        let confirmed = self.favoured_before_probe.take() == Some(self.favoured());
        self.probe_gap = if confirmed {
            (self.probe_gap * 2)
                .min(LAST_PROBE_GAP)
                .max(self.gap_within_budget())
        } else {
            FIRST_PROBE_GAP
        };
        self.until_probe = self.probe_gap;
    }

    /// The gap at which trying the losing way costs at most the budget: each try costs
    /// `PROBE_TICKS × (loser − winner)`, which must stay under `budget × gap × winner`.
    /// After a noisy try (one tick far slower than the other, as when the machine preempted
    /// it) the gap is at most [`NOISY_TRY_LONGEST_GAP`]: one disturbed tick must not put the
    /// next try off for up to [`LONGEST_PROBE_GAP`] ticks.
    fn gap_within_budget(&self) -> u32 {
        let (winner, loser) = match self.favoured() {
            Way::Inline => (&self.inline, &self.parallel),
            Way::Parallel => (&self.parallel, &self.inline),
        };
        let extra = u64::from(PROBE_TICKS) * loser.nanos.saturating_sub(winner.nanos) * 1000;
        let allowed = winner.nanos.saturating_mul(PROBE_BUDGET_PER_MILLE).max(1);
        let longest = if loser.noisy() {
            NOISY_TRY_LONGEST_GAP
        } else {
            LONGEST_PROBE_GAP
        };
        u32::try_from(extra.div_ceil(allowed))
            .unwrap_or(u32::MAX)
            .min(longest)
    }

    fn favoured(&self) -> Way {
        // Parallel must win by 3%: inline is the safe default.
        if u128::from(self.parallel.nanos) * 100 < u128::from(self.inline.nanos) * 97 {
            Way::Parallel
        } else {
            Way::Inline
        }
    }
}

fn other(way: Way) -> Way {
    match way {
        Way::Inline => Way::Parallel,
        Way::Parallel => Way::Inline,
    }
}

/// A system worth a worker: `Send`, timed at least once, and on average not cheaper than
/// `offload_min`.
pub(crate) fn offloadable(node: &SystemNode, offload_min: Duration) -> bool {
    node.is_send && node.timing.timed > 0 && node.timing.average >= offload_min
}

/// What the executor knows when it asks whether a step could pay.
pub(crate) struct Outlook {
    /// Threads that run systems.
    pub(crate) threads: usize,
    /// See [`ParallelConfig::offload_min`](super::ParallelConfig::offload_min).
    pub(crate) offload_min: Duration,
    /// How long a worker recently took to join a posting.
    pub(crate) wake_latency: Duration,
}

/// Question 1 of the module docs: would the best case save at least a tenth of the step's
/// inline time, and more than waking a worker takes? `finish` is scratch space.
pub(crate) fn could_pay(
    nodes: &[SystemNode],
    step: &SharedStep,
    outlook: &Outlook,
    finish: &mut Vec<Duration>,
) -> bool {
    let members = || step.nodes.iter().map(|&i| &nodes[i]);
    if outlook.threads < 2 || !members().any(|node| offloadable(node, outlook.offload_min)) {
        return false;
    }
    let total: Duration = members().map(|node| node.timing.average).sum();
    let longest_chain = longest_chain(nodes, step, finish);
    let best = longest_chain.max(total / outlook.threads as u32);
    let saving = total.saturating_sub(best);
    saving > total / 10 && saving > outlook.wake_latency
}

/// The longest chain of dependent systems in the step, by average run time.
fn longest_chain(nodes: &[SystemNode], step: &SharedStep, start: &mut Vec<Duration>) -> Duration {
    start.clear();
    start.resize(step.nodes.len(), Duration::ZERO);
    let mut longest = Duration::ZERO;
    // Positions are in run order, a topological order of the step.
    for (position, &index) in step.nodes.iter().enumerate() {
        let end = start[position] + nodes[index].timing.average;
        longest = longest.max(end);
        for &next in &step.successors[position] {
            start[next] = start[next].max(end);
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    const MICRO: Duration = Duration::from_micros(1);

    /// Runs `ticks` ticks where the step takes `inline` or `parallel`; returns the ticks run
    /// in parallel.
    fn simulate(choice: &mut StepChoice, ticks: u32, inline: Duration, parallel: Duration) -> u32 {
        let mut parallel_ticks = 0;
        for _ in 0..ticks {
            let way = choice.choose().expect("could pay");
            parallel_ticks += u32::from(way == Way::Parallel);
            choice.record(
                way,
                match way {
                    Way::Inline => inline,
                    Way::Parallel => parallel,
                },
            );
        }
        parallel_ticks
    }

    fn open() -> StepChoice {
        let mut choice = StepChoice::default();
        choice.reconsider(true);
        choice
    }

    #[test]
    fn a_losing_parallel_way_is_tried_less_and_less() {
        let mut choice = open();
        let tried = simulate(&mut choice, 10_000, 40 * MICRO, 100 * MICRO);
        assert!(tried <= 100, "parallel ran {tried} of 10,000 ticks");
        assert!(choice.probe_gap >= LAST_PROBE_GAP, "{}", choice.probe_gap);
    }

    #[test]
    fn a_winning_parallel_way_is_kept() {
        let mut choice = open();
        let tried = simulate(&mut choice, 10_000, 400 * MICRO, 210 * MICRO);
        assert!(tried >= 9_900, "parallel ran only {tried} of 10,000 ticks");
    }

    #[test]
    fn a_change_in_the_workload_is_followed() {
        let mut choice = open();
        simulate(&mut choice, 2_000, 400 * MICRO, 210 * MICRO);
        let tried = simulate(&mut choice, 4_000, 40 * MICRO, 100 * MICRO);
        assert!(tried < 400, "still parallel in {tried} of 4,000 ticks");
    }

    #[test]
    fn a_much_slower_parallel_way_costs_at_most_a_percent() {
        let mut choice = open();
        let inline = 15 * MICRO;
        let parallel = 200 * MICRO;
        let tried = simulate(&mut choice, 100_000, inline, parallel);
        let extra = (parallel - inline) * tried;
        // 1% of the time, plus the warm-up and the first try.
        let allowed =
            inline * 100_000 / 100 + (parallel - inline) * (WARM_UP_SAMPLES + PROBE_TICKS);
        assert!(
            extra < allowed,
            "parallel ran {tried} times: {extra:?} extra over 100,000 ticks"
        );
    }

    #[test]
    fn a_parallel_way_fast_only_at_times_is_judged_by_its_mean() {
        // Parallel takes 150 µs nine times in ten and 3,000 µs the tenth (mean 435 µs, as
        // when the machine often leaves the worker no core); inline takes 400 µs.
        let mut choice = open();
        let mut parallel_ticks = 0;
        for tick in 0..10_000u32 {
            let way = choice.choose().expect("could pay");
            let parallel = if tick % 10 == 9 { 3_000 } else { 150 };
            let elapsed = match way {
                Way::Inline => 400 * MICRO,
                Way::Parallel => parallel * MICRO,
            };
            parallel_ticks += u32::from(way == Way::Parallel);
            choice.record(way, elapsed);
        }
        assert!(
            parallel_ticks < 300,
            "parallel ran {parallel_ticks} of 10,000 ticks"
        );
    }

    #[test]
    fn a_step_pays_only_if_it_saves_more_than_waking_a_worker() {
        use crate::schedule::{Schedule, graph::Step};
        let mut world = bevy_ecs::world::World::new();
        let mut schedule = Schedule::of_trivial(2, &mut world);
        for node in &mut schedule.nodes {
            node.timing.record_run(5 * MICRO);
        }
        let Step::Shared(step) = &schedule.graph.steps[0] else {
            panic!("one shared step");
        };
        let outlook = |wake_latency| Outlook {
            threads: 2,
            offload_min: MICRO,
            wake_latency,
        };
        let mut finish = Vec::new();
        assert!(could_pay(
            &schedule.nodes,
            step,
            &outlook(MICRO),
            &mut finish
        ));
        assert!(!could_pay(
            &schedule.nodes,
            step,
            &outlook(20 * MICRO),
            &mut finish
        ));
        let one_thread = Outlook {
            threads: 1,
            ..outlook(Duration::ZERO)
        };
        assert!(!could_pay(&schedule.nodes, step, &one_thread, &mut finish));
    }

    #[test]
    fn one_slow_tick_in_a_try_does_not_put_off_the_next_try_for_long() {
        let mut choice = open();
        simulate(&mut choice, 300, 100 * MICRO, 150 * MICRO);
        // Runs inline until the next try of the parallel way begins.
        while choice.choose() == Some(Way::Inline) {
            choice.record(Way::Inline, 100 * MICRO);
        }
        // Its first tick is preempted (100 times slower), the second is not.
        choice.record(Way::Parallel, 15_000 * MICRO);
        assert_eq!(choice.choose(), Some(Way::Parallel));
        choice.record(Way::Parallel, 150 * MICRO);
        assert_eq!(choice.favoured(), Way::Inline, "the try confirmed inline");
        assert!(
            choice.until_probe <= NOISY_TRY_LONGEST_GAP,
            "next try only in {} ticks",
            choice.until_probe
        );
    }

    #[test]
    fn a_step_that_keeps_declining_is_judged_on_every_fourth_sampling_tick_only() {
        let mut choice = StepChoice::default();
        let judged = |choice: &mut StepChoice, samplings: usize| {
            (0..samplings)
                .filter(|_| {
                    let due = choice.rejudges(true);
                    if due {
                        choice.reconsider(false);
                    }
                    due
                })
                .count()
        };
        assert!(!choice.rejudges(false), "only sampling ticks judge");
        assert_eq!(judged(&mut choice, 4), 4, "the first four are all judged");
        assert_eq!(judged(&mut choice, 16), 4, "then every fourth");
        choice.reconsider(true);
        assert!(
            (0..8).all(|_| choice.rejudges(true)),
            "a step that could pay is judged on every sampling tick"
        );
        choice.reconsider(false);
        assert_eq!(judged(&mut choice, 4), 4, "declining anew starts over");
        assert_eq!(
            judged(&mut choice, 4_000),
            1_000,
            "every fourth, however long"
        );
        assert!(
            choice.declined_samplings <= 2 * REJUDGE_DECLINED_EVERY,
            "the count stays small, so it never stops at its largest value: {}",
            choice.declined_samplings
        );
    }

    #[test]
    fn a_step_that_cannot_pay_is_not_measured() {
        let mut choice = StepChoice::default();
        choice.reconsider(false);
        assert_eq!(choice.choose(), None);
    }
}

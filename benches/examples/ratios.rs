//! The ratio table of the `schedule` and `event_throughput` cases: every contender measured
//! in interleaved rounds in one process, then the parallel executor's frame time divided by
//! each other contender's (below 1: tickbus parallel is faster).
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --example ratios
//! CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --example ratios -- busy --rounds 21
//! ```
//!
//! Arguments (`--help` lists them): an optional filter (a part of the group name), `--rounds N`
//! (default 15), `--min` (report the fastest round instead of the median: steadier on a busy
//! machine), `--sample-ms M` (the length of one timed sample, default 20), `--pin` (pin the
//! parallel executor's workers to cores) and `--forced` (offload every system, to see what
//! parallelism would cost where the default declines it). The output is a Markdown
//! table; `offloaded/frame` is how many systems per frame the parallel executor handed to its
//! worker during the measurement (0: it judged that parallelism would not pay).
//!
//! A second table replays the game-demo's recorded scenarios (`scenarios/asteroids-*.ron`,
//! filter `replay`) on the parallel executor with 2 threads and on the sequential one, one
//! replay of each per round in alternating order, and gives the median time per tick of each,
//! the ratio of the medians and the spread of the per-round ratios (p25–p75): real games, where
//! most steps are too small for parallelism to pay.

use std::{path::PathBuf, time::Duration};

use clap::Parser;

use game_demo::game::Asteroids;
use tickbus::{
    ExecutorKind,
    replay::{Replayer, Scenario},
};
use tickbus_benches::{
    Contender,
    cases::{Case, event_cases, interleaved_samples},
    sweep::{count_in, millis_in},
};

/// The ratio table of the `schedule` and `event_throughput` cases, and of the recorded game
/// scenarios: tickbus's parallel executor against every other contender, interleaved.
#[derive(Parser, Debug)]
#[command(name = "ratios")]
struct Options {
    /// Only the cases whose group name contains this (e.g. `busy`; `replay` for the game
    /// scenarios).
    filter: Option<String>,
    /// Interleaved rounds per case.
    #[arg(long, default_value_t = 15, value_parser = count_in(1, 10_000), allow_negative_numbers = true)]
    rounds: usize,
    /// Length of one timed sample, in milliseconds.
    #[arg(long, default_value_t = 20, value_parser = millis_in(1, 60_000), allow_negative_numbers = true)]
    sample_ms: u64,
    /// Report the fastest round instead of the median (steadier on a busy machine).
    #[arg(long = "min")]
    fastest: bool,
    /// Pin the parallel executor's workers to cores.
    #[arg(long)]
    pin: bool,
    /// Offload every system, to see what parallelism would cost where the default declines
    /// it.
    #[arg(long)]
    forced: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Options {
    fn sample(&self) -> Duration {
        Duration::from_millis(self.sample_ms)
    }
}

fn micros(time: Duration) -> String {
    format!("{:.1} µs", time.as_secs_f64() * 1e6)
}

fn row(case: &Case, options: &Options) {
    let samples = interleaved_samples(case, options.rounds, options.sample());
    let time = |who: Contender| {
        let times = samples
            .iter()
            .find(|(contender, _)| *contender == who)
            .map(|(_, times)| times)
            .expect("every contender measured");
        if options.fastest {
            times[0]
        } else {
            times[times.len() / 2]
        }
    };
    let parallel = time(Contender::TickbusParallel);
    let ratio = |who| parallel.as_secs_f64() / time(who).as_secs_f64();
    let mut sim = (case.build)(Contender::TickbusParallel);
    let before = sim.executor_totals().unwrap_or_default();
    sim.run(200);
    let after = sim.executor_totals().unwrap_or_default();
    let offloaded = (after.systems_on_workers - before.systems_on_workers) as f64 / 200.0;
    println!(
        "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {offloaded:.1} |",
        case.group,
        micros(parallel),
        micros(time(Contender::TickbusSequential)),
        ratio(Contender::TickbusSequential),
        ratio(Contender::BevySingle),
        ratio(Contender::BevyMulti),
    );
}

/// The recorded games replayed by the second table.
const REPLAYS: [&str; 3] = ["asteroids-smoke", "asteroids-long", "asteroids-stress"];

/// The second table: the game-demo's recordings replayed on both executors, interleaved.
fn replay_table(options: &Options) {
    let wanted: Vec<&str> = REPLAYS
        .into_iter()
        .filter(|name| {
            let case = format!("replay/{name}");
            options
                .filter
                .as_ref()
                .is_none_or(|filter| case.contains(filter.as_str()))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    println!();
    println!(
        "| case | tickbus par2 | tickbus seq | par2 / seq | per-round par2 / seq (p25–p75) | offloaded/tick |"
    );
    println!("|---|---|---|---|---|---|");
    for name in wanted {
        replay_row(name, options.rounds);
    }
}

fn replay_row(name: &str, rounds: usize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.ron"));
    let scenario = Scenario::load::<Asteroids>(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let executors = [ExecutorKind::parallel(2), ExecutorKind::Sequential];
    let mut per_tick: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::with_capacity(rounds);
    let mut offloaded = 0.0;
    for round in 0..rounds {
        // Alternate which goes first: the second of two back-to-back replays may be slower.
        for which in [round % 2, 1 - round % 2] {
            let report = Replayer::<Asteroids>::new(&scenario)
                .executor(executors[which])
                .run()
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(report.is_verified(), "{name} does not replay: {report}");
            per_tick[which].push(report.elapsed / report.ticks_run.max(1) as u32);
            if which == 0 {
                offloaded += report.executor.systems_on_workers as f64
                    / report.ticks_run.max(1) as f64
                    / rounds as f64;
            }
        }
        ratios.push(per_tick[0][round].as_secs_f64() / per_tick[1][round].as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let median = |times: &mut Vec<Duration>| {
        times.sort_unstable();
        times[times.len() / 2]
    };
    let [parallel, sequential] = &mut per_tick;
    let (parallel, sequential) = (median(parallel), median(sequential));
    println!(
        "| replay/{name} | {} | {} | {:.2} | {:.2}–{:.2} | {offloaded:.2} |",
        micros(parallel),
        micros(sequential),
        parallel.as_secs_f64() / sequential.as_secs_f64(),
        ratios[ratios.len() / 4],
        ratios[ratios.len() * 3 / 4],
    );
}

fn main() {
    let options = Options::parse();
    tickbus_benches::pin_workers(options.pin);
    tickbus_benches::force_offloading(options.forced);
    println!(
        "| case | tickbus par2 | tickbus seq | par2 / seq | par2 / bevy single | par2 / bevy multi | offloaded/frame |"
    );
    println!("|---|---|---|---|---|---|---|");
    let cases = tickbus_benches::cases::schedule_cases()
        .into_iter()
        .chain(event_cases());
    for case in cases {
        if options
            .filter
            .as_ref()
            .is_none_or(|filter| case.group.contains(filter.as_str()))
        {
            row(&case, &options);
        }
    }
    replay_table(&options);
}

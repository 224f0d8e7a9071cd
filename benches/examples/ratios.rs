//! The ratio table of the `schedule` and `event_throughput` cases: every contender measured
//! in interleaved rounds in one process, then the parallel executor's frame time divided by
//! each other contender's (below 1: tickbus parallel is faster).
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --example ratios
//! CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --example ratios -- busy --rounds 21
//! ```
//!
//! Arguments: an optional filter (a part of the group name), `--rounds N` (default 15),
//! `--min` (report the fastest round instead of the median: steadier on a busy machine),
//! `--sample-ms M` (the length of one timed sample, default 20), `--pin` (pin the parallel
//! executor's workers to cores) and `--forced` (offload every system, to see what
//! parallelism would cost where the default declines it). The output is a Markdown
//! table; `offloaded/frame` is how many systems per frame the parallel executor handed to its
//! worker during the measurement (0: it judged that parallelism would not pay).

use std::time::Duration;

use tickbus_benches::{
    Contender,
    cases::{Case, event_cases, interleaved_samples},
};

struct Options {
    filter: Option<String>,
    rounds: usize,
    sample: Duration,
    fastest: bool,
}

fn options() -> Options {
    let mut options = Options {
        filter: None,
        rounds: 15,
        sample: Duration::from_millis(20),
        fastest: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => options.rounds = number(args.next()).max(1),
            "--sample-ms" => options.sample = Duration::from_millis(number(args.next()) as u64),
            "--bench" => {}
            "--pin" => tickbus_benches::pin_workers(true),
            "--min" => options.fastest = true,
            "--forced" => tickbus_benches::force_offloading(true),
            filter => options.filter = Some(filter.to_owned()),
        }
    }
    options
}

fn number(arg: Option<String>) -> usize {
    arg.and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("a number is expected after --rounds / --sample-ms"))
}

fn micros(time: Duration) -> String {
    format!("{:.1} µs", time.as_secs_f64() * 1e6)
}

fn row(case: &Case, options: &Options) {
    let samples = interleaved_samples(case, options.rounds, options.sample);
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

fn main() {
    let options = options();
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
}

//! `tickbus-bench`: how many events per frame can a tick afford? tickbus, with its readers as
//! `EventReader` systems (`tickbus`) and as event folds (`tickbus_fold`), against bevy's
//! `Messages` (both bevy executors) and a raw reused `Vec`, measured side by side in one
//! process, interleaved round by round; or, with `--ingest`, events arriving from producer
//! threads through channel sources against a bare crossbeam channel.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --bin tickbus-bench -- --help
//! ```

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use tickbus_benches::sweep::{
    ingest::{self, IngestConfig},
    measure::Sampling,
    plot::write_svg,
    report::{Point, Report},
    roofline,
    throughput::{self, EVENT_BYTES, SweepConfig, TickbusExecutor},
};

/// Event throughput per frame, measured interleaved in one process: tickbus with its readers
/// as EventReader systems (tickbus) and as event folds (tickbus_fold, App::add_event_fold),
/// both on the same executor; bevy Messages (bevy_single, bevy_multi); a raw reused Vec
/// (raw_extend).
#[derive(Parser, Debug)]
#[command(name = "tickbus-bench", version)]
struct Args {
    /// Events written per frame (comma-separated), one point each. Default: 1000,10000,100000,1000000
    /// (with --ingest: 10000,100000).
    #[arg(long, value_delimiter = ',')]
    events_per_frame: Vec<usize>,
    /// Event sizes in bytes (16 and/or 64).
    #[arg(long, value_delimiter = ',', default_values_t = EVENT_BYTES)]
    event_bytes: Vec<usize>,
    /// Writer systems of the event type (each writes an equal share of the frame).
    #[arg(long, default_value_t = 1)]
    writers: usize,
    /// Readers of the event type (each reads every event): reader systems for tickbus and
    /// bevy, event folds for tickbus_fold.
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// Threads of tickbus's parallel executor, for tickbus and tickbus_fold (default: its own
    /// default).
    #[arg(long, conflicts_with = "sequential")]
    threads: Option<usize>,
    /// Run tickbus and tickbus_fold on tickbus's sequential executor.
    #[arg(long)]
    sequential: bool,
    /// Frames timed per sample (default: as many as take --sample-ms).
    #[arg(long)]
    frames: Option<usize>,
    /// Interleaved rounds per point: samples per contender.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Target length of one sample in milliseconds, when --frames is not given.
    #[arg(long, default_value_t = 20)]
    sample_ms: u64,
    /// Write every sample to this JSON file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw million events per second against events per frame into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Also measure tickbus on the parallel executor with every system offloaded
    /// (`OffloadPolicy::Always`), contender `tickbus_always`, to compare with the adaptive
    /// policy's choice.
    #[arg(long, conflicts_with = "ingest")]
    also_offload_always: bool,
    /// Measure the floors of the throughput workload instead (one writer):
    /// compute only, one streaming pass, the queue's data flow on one thread and spread over
    /// the threads; interleaved with the throughput contenders, with the best ratio against
    /// bevy the machine allows. Default: 1000000 events per frame, sizes from --event-bytes.
    #[arg(long, conflicts_with = "ingest")]
    roofline: bool,
    /// Measure ingestion from producer threads instead (per-event and batch sends through a
    /// tickbus source, against a bare crossbeam channel).
    #[arg(long)]
    ingest: bool,
    /// Producer threads with --ingest (comma-separated), one point each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    producers: Vec<usize>,
    /// Events per batch with --ingest.
    #[arg(long, default_value_t = 256)]
    batch: usize,
}

impl Args {
    fn sampling(&self) -> Sampling {
        Sampling {
            rounds: self.rounds.max(1),
            frames: self.frames,
            sample_time: Duration::from_millis(self.sample_ms),
        }
    }

    fn executor(&self) -> TickbusExecutor {
        match (self.sequential, self.threads) {
            (true, _) => TickbusExecutor::Sequential,
            (false, Some(threads)) => TickbusExecutor::Parallel(threads.max(1)),
            (false, None) => TickbusExecutor::Default,
        }
    }

    fn events_or(&self, default: &[usize]) -> Vec<usize> {
        if self.events_per_frame.is_empty() {
            default.to_vec()
        } else {
            self.events_per_frame.clone()
        }
    }
}

/// Measures every point with a progress bar on stderr (one step per interleaved round).
fn measure_with_progress(
    points: &[(usize, usize)],
    rounds: usize,
    label: impl Fn((usize, usize)) -> String,
    measure: impl Fn((usize, usize), &mut dyn FnMut()) -> Point,
) -> Vec<Point> {
    let bar = ProgressBar::new((points.len() * rounds) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rounds, {elapsed} ({eta} left) {msg}")
            .expect("a valid template"),
    );
    let measured = points
        .iter()
        .map(|&point| {
            bar.set_message(label(point));
            measure(point, &mut || bar.inc(1))
        })
        .collect();
    bar.finish_and_clear();
    measured
}

fn throughput_config(args: &Args, default_events: &[usize]) -> anyhow::Result<SweepConfig> {
    if let Some(bytes) = args.event_bytes.iter().find(|b| !EVENT_BYTES.contains(b)) {
        anyhow::bail!("--event-bytes {bytes}: only {EVENT_BYTES:?} are built in");
    }
    anyhow::ensure!(
        args.writers >= 1 && args.readers >= 1,
        "--writers and --readers must be at least 1"
    );
    Ok(SweepConfig {
        events_per_frame: args.events_or(default_events),
        event_bytes: args.event_bytes.clone(),
        writers: args.writers,
        readers: args.readers,
        executor: args.executor(),
        also_offload_always: args.also_offload_always,
        sampling: args.sampling(),
    })
}

fn describe(config: &SweepConfig) -> String {
    format!(
        "tickbus ({}), {} writer(s), {} reader(s)",
        config.executor.describe(),
        config.writers,
        config.readers
    )
}

fn throughput_report(args: &Args) -> anyhow::Result<Report> {
    let config = throughput_config(args, &[1_000, 10_000, 100_000, 1_000_000])?;
    let measured = measure_with_progress(
        &config.points(),
        config.sampling.rounds,
        |(events, bytes)| format!("{events} × {bytes} B"),
        |(events, bytes), round_done| throughput::measure_point(&config, events, bytes, round_done),
    );
    Ok(report(
        "throughput",
        describe(&config),
        config.sampling,
        throughput::ratio_specs(config.also_offload_always),
        measured,
    ))
}

fn roofline_report(args: &Args) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.writers == 1,
        "--roofline measures one writer (--writers 1)"
    );
    let config = throughput_config(args, &[1_000_000])?;
    let measured = measure_with_progress(
        &config.points(),
        config.sampling.rounds,
        |(events, bytes)| format!("roofline, {events} × {bytes} B"),
        |(events, bytes), round_done| roofline::measure_point(&config, events, bytes, round_done),
    );
    Ok(report(
        "roofline",
        describe(&config),
        config.sampling,
        roofline::ratio_specs(),
        measured,
    ))
}

fn ingest_report(args: &Args) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.producers.iter().all(|&p| p >= 1),
        "--producers must be at least 1"
    );
    let config = IngestConfig {
        events_per_frame: args.events_or(&[10_000, 100_000]),
        producers: args.producers.clone(),
        batch: args.batch.max(1),
        sampling: args.sampling(),
    };
    let measured = measure_with_progress(
        &config.points(),
        config.sampling.rounds,
        |(events, producers)| format!("{events} from {producers} producer(s)"),
        |(events, producers), round_done| {
            ingest::measure_point(&config, events, producers, round_done)
        },
    );
    Ok(report(
        "ingest",
        format!(
            "tickbus (default executor), unbounded source, batches of {}",
            config.batch
        ),
        config.sampling,
        ingest::ratio_specs(),
        measured,
    ))
}

fn report(
    sweep: &str,
    tickbus: String,
    sampling: Sampling,
    ratios: Vec<tickbus_benches::sweep::report::RatioSpec>,
    points: Vec<Point>,
) -> Report {
    Report {
        sweep: sweep.to_owned(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        tickbus,
        sampling,
        ratios,
        points,
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let report = if args.ingest {
        ingest_report(&args)?
    } else if args.roofline {
        roofline_report(&args)?
    } else {
        throughput_report(&args)?
    };
    println!(
        "{} sweep: {}; {} interleaved rounds per point; ratios are medians of per-round ratios (p10–p90)\n",
        report.sweep, report.tickbus, report.sampling.rounds
    );
    print!("{}", report.table());
    if let Some(path) = &args.json {
        report.write_json(path).with_context(|| "writing --json")?;
    }
    if let Some(path) = &args.plot {
        write_svg(&report, path).with_context(|| "writing --plot")?;
    }
    Ok(())
}

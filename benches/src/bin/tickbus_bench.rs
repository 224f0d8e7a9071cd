//! `tickbus-bench`: how many events per frame can a tick afford? tickbus, with its readers as
//! `EventReader` systems (`tickbus`) and as event folds (`tickbus_fold`), against bevy's
//! `Messages` (both bevy executors) and a raw reused `Vec`, measured side by side in one
//! process, interleaved round by round; or, with `--ingest`, events arriving from producer
//! threads through channel sources against a bare crossbeam channel.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --bin tickbus-bench -- --help
//! ```

use std::{
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, builder::RangedU64ValueParser};
use indicatif::{ProgressBar, ProgressStyle};
use tickbus_benches::sweep::{
    ingest::{self, IngestConfig},
    measure::Sampling,
    plot::render_svg,
    report::{Point, Report},
    roofline,
    throughput::{self, EVENT_BYTES, SweepConfig, TickbusExecutor},
};

/// Most events per frame a point may ask for: the contenders of a point keep several frames
/// of events in memory at once (at 64 bytes, about 6 GB at this limit).
const MAX_EVENTS_PER_FRAME: u64 = 10_000_000;

/// A parser for a count from `min` to `max`, whose error names the flag and the range.
fn count_in(min: u64, max: u64) -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(min..=max)
}

/// Event throughput per frame, measured interleaved in one process: tickbus with its readers
/// as EventReader systems (tickbus) and as event folds (tickbus_fold, App::add_event_fold),
/// both on the same executor; bevy Messages (bevy_single, bevy_multi); a raw reused Vec
/// (raw_extend).
#[derive(Parser, Debug)]
#[command(name = "tickbus-bench", version)]
struct Args {
    /// Events written per frame (comma-separated, 1 to 10000000), one point each. Default:
    /// 1000,10000,100000,1000000 (with --roofline: 1000000; with --ingest: 10000,100000).
    #[arg(long, value_delimiter = ',', value_parser = count_in(1, MAX_EVENTS_PER_FRAME), allow_negative_numbers = true)]
    events_per_frame: Vec<usize>,
    /// Event sizes in bytes (comma-separated: 16 and/or 64). Default: 16,64.
    #[arg(long, value_delimiter = ',', default_values_t = EVENT_BYTES, hide_default_value = true, conflicts_with = "ingest")]
    event_bytes: Vec<usize>,
    /// Writer systems of the event type (each writes an equal share of the frame).
    #[arg(long, default_value_t = 1, value_parser = count_in(1, 64), allow_negative_numbers = true, conflicts_with = "ingest")]
    writers: usize,
    /// Readers of the event type (each reads every event): reader systems for tickbus and
    /// bevy, event folds for tickbus_fold.
    #[arg(long, default_value_t = 4, value_parser = count_in(1, 64), allow_negative_numbers = true, conflicts_with = "ingest")]
    readers: usize,
    /// Threads of tickbus's parallel executor, for tickbus and tickbus_fold (and
    /// tickbus_always) (default: its own default).
    #[arg(long, conflicts_with_all = ["sequential", "ingest"], value_parser = count_in(1, 256), allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Run tickbus and tickbus_fold on tickbus's sequential executor.
    #[arg(long, conflicts_with = "ingest")]
    sequential: bool,
    /// Frames timed per sample (default: as many as take --sample-ms).
    #[arg(long, value_parser = count_in(1, 1_000_000), allow_negative_numbers = true)]
    frames: Option<usize>,
    /// Interleaved rounds per point: samples per contender.
    #[arg(long, default_value_t = 15, value_parser = count_in(1, 10_000), allow_negative_numbers = true)]
    rounds: usize,
    /// Target length of one sample in milliseconds, when --frames is not given.
    #[arg(long, default_value_t = 20, value_parser = RangedU64ValueParser::<u64>::new().range(1..=60_000), allow_negative_numbers = true)]
    sample_ms: u64,
    /// Write every sample to this JSON file (checked before measuring starts).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw million events per second against events per frame into this SVG file (its name
    /// must end in .svg; checked before measuring starts).
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Also measure tickbus on the parallel executor (same threads) with every system
    /// offloaded (`OffloadPolicy::Always`), contender `tickbus_always`, to compare with the
    /// adaptive policy's choice.
    #[arg(long, conflicts_with_all = ["ingest", "roofline", "sequential"])]
    also_offload_always: bool,
    /// Measure the floors of the throughput workload instead (one writer):
    /// compute only, one streaming pass, the queue's data flow on one thread and spread over
    /// the threads; interleaved with the throughput contenders, with the best ratio against
    /// bevy the machine allows. Default: 1000000 events per frame, sizes from --event-bytes.
    #[arg(long, conflicts_with = "ingest")]
    roofline: bool,
    /// Measure ingestion from producer threads instead (per-event and batch sends through a
    /// tickbus source on the default executor, against a bare crossbeam channel; 16-byte
    /// events).
    #[arg(long)]
    ingest: bool,
    /// Producer threads with --ingest (comma-separated), one point each. Default: 1,2,4.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4], hide_default_value = true, value_parser = count_in(1, 64), allow_negative_numbers = true, requires = "ingest")]
    producers: Vec<usize>,
    /// Events per batch with --ingest.
    #[arg(long, default_value_t = 256, value_parser = count_in(1, 1_000_000), allow_negative_numbers = true, requires = "ingest")]
    batch: usize,
}

impl Args {
    fn sampling(&self) -> Sampling {
        Sampling {
            rounds: self.rounds,
            frames: self.frames,
            sample_time: Duration::from_millis(self.sample_ms),
        }
    }

    fn executor(&self) -> TickbusExecutor {
        match (self.sequential, self.threads) {
            (true, _) => TickbusExecutor::Sequential,
            (false, Some(threads)) => TickbusExecutor::Parallel(threads),
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
    let config = IngestConfig {
        events_per_frame: args.events_or(&[10_000, 100_000]),
        producers: args.producers.clone(),
        batch: args.batch,
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

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Every message names its flag and file itself, and no cause repeats its context.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Checks the arguments and the output files, measures, prints the table, writes the files.
fn run(args: &Args) -> anyhow::Result<()> {
    check_output_names(args)?;
    let outputs = Outputs {
        json: args
            .json
            .as_deref()
            .map(|path| OutputFile::create("--json", path))
            .transpose()?,
        plot: args
            .plot
            .as_deref()
            .map(|path| OutputFile::create("--plot", path))
            .transpose()?,
    };
    let report = if args.ingest {
        ingest_report(args)?
    } else if args.roofline {
        roofline_report(args)?
    } else {
        throughput_report(args)?
    };
    println!(
        "{} sweep: {}; {} interleaved rounds per point; ratios are medians of per-round ratios (p10–p90)\n",
        report.sweep, report.tickbus, report.sampling.rounds
    );
    print!("{}", report.table());
    outputs.write(&report)
}

/// Refuses a --plot file whose name says it is not SVG (the only format drawn).
fn check_output_names(args: &Args) -> anyhow::Result<()> {
    if let Some(path) = &args.plot {
        let svg = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("svg"));
        anyhow::ensure!(
            svg,
            "--plot {}: the plot is drawn as SVG; give a file name ending in .svg",
            path.display()
        );
    }
    Ok(())
}

/// The files a run writes once it has measured.
struct Outputs {
    json: Option<OutputFile>,
    plot: Option<OutputFile>,
}

impl Outputs {
    /// Writes the JSON first, so a plot that cannot be drawn still leaves the samples.
    fn write(self, report: &Report) -> anyhow::Result<()> {
        if let Some(json) = self.json {
            let text = serde_json::to_string_pretty(report).context("cannot encode the report")?;
            json.write(text.as_bytes())?;
        }
        if let Some(plot) = self.plot {
            let svg =
                render_svg(report).with_context(|| format!("--plot {}", plot.path.display()))?;
            plot.write(svg.as_bytes())?;
        }
        Ok(())
    }
}

/// An output file, opened before measuring so that a path that cannot be written fails at
/// once instead of after minutes of measuring. It is not truncated until the results are
/// written, so an earlier file of that name survives a run that fails; a file this run
/// created is removed again if the run ends without writing it (an error, or a panic
/// unwinding), so no empty file is left looking like a result.
struct OutputFile {
    flag: &'static str,
    path: PathBuf,
    /// Whether the file existed before: only a file this run created is ever removed (the
    /// path may name `/dev/stdout` or an earlier result).
    existed: bool,
    file: Option<File>,
}

impl OutputFile {
    fn create(flag: &'static str, path: &Path) -> anyhow::Result<Self> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|error| anyhow::anyhow!("{flag} {}: {error}", path.display()))?;
        Ok(Self {
            flag,
            path: path.to_owned(),
            existed,
            file: Some(file),
        })
    }

    fn write(mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut file = self.file.take().expect("written once");
        let written = Self::replace_contents(&mut file, bytes);
        if written.is_err() {
            self.remove_if_created();
        }
        written.map_err(|error| anyhow::anyhow!("{} {}: {error}", self.flag, self.path.display()))
    }

    /// Truncates a regular file (not a pipe or a device) and writes `bytes`.
    fn replace_contents(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
        if file.metadata()?.is_file() {
            file.set_len(0)?;
        }
        file.write_all(bytes)?;
        file.flush()
    }

    fn remove_if_created(&self) {
        if !self.existed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            self.remove_if_created();
        }
    }
}

//! `tickbus-bench`: how many events per frame can a tick afford? tickbus, with its readers as
//! `EventReader` systems (`tickbus`) and as event folds (`tickbus_fold`), against bevy's
//! `Messages` (both bevy executors) and a raw reused `Vec`, measured side by side in one
//! process, interleaved round by round; or, with `--ingest`, events arriving from producer
//! threads through channel sources against a bare crossbeam channel.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo run --release -p tickbus-benches --bin tickbus-bench -- --help
//! ```

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::Parser;
use game_demo::output::OutputFile;
use indicatif::{ProgressBar, ProgressStyle};
use tickbus_benches::{
    events::Payload,
    sweep::{
        count_in,
        ingest::{self, IngestConfig},
        measure::Sampling,
        millis_in,
        plot::render_svg,
        report::{Point, Report},
        roofline,
        throughput::{self, EVENT_BYTES, SweepConfig, TickbusExecutor},
    },
};

/// Most bytes of events per frame a point may ask for (events × event size): 10 million
/// 16-byte or 2.5 million 64-byte events. The contenders of a point keep several frames in
/// memory at once: measured peak memory is about 12 times a frame's bytes for the throughput
/// sweep and 23 times for `--roofline` (about 2 and 3.7 GB at this limit).
const MAX_FRAME_BYTES: usize = 160_000_000;

/// Most events one sample may run (frames × events per frame), so that `--frames` cannot
/// ask for a run of days: about 4 s of the slowest contender at 1M events.
const MAX_SAMPLE_EVENTS: usize = 1_000_000_000;

/// Event throughput per frame, measured interleaved in one process: tickbus with its readers
/// as EventReader systems (tickbus) and as event folds (tickbus_fold, App::add_event_fold),
/// both on the same executor; bevy Messages (bevy_single, bevy_multi); a raw reused Vec
/// (raw_extend).
#[derive(Parser, Debug)]
#[command(name = "tickbus-bench", version)]
struct Args {
    /// Events written per frame (comma-separated, 1 to 10000000, at most 160 MB of events at
    /// the largest event size), one point each. Default: 1000,10000,100000,1000000 (with
    /// --roofline: 1000000; with --ingest: 10000,100000).
    #[arg(long, value_delimiter = ',', value_parser = count_in(1, 10_000_000), allow_negative_numbers = true)]
    events_per_frame: Vec<usize>,
    /// Event sizes in bytes (comma-separated: 16 and/or 64). Default: 16,64.
    #[arg(long, value_delimiter = ',', default_values_t = EVENT_BYTES, hide_default_value = true, allow_negative_numbers = true, conflicts_with = "ingest")]
    event_bytes: Vec<usize>,
    /// Writer systems of the event type (each writes an equal share of the frame), 1 to 64.
    #[arg(long, default_value_t = 1, value_parser = count_in(1, 64), allow_negative_numbers = true, conflicts_with = "ingest")]
    writers: usize,
    /// Readers of the event type (each reads every event): reader systems for tickbus and
    /// bevy, event folds for tickbus_fold. 1 to 64.
    #[arg(long, default_value_t = 4, value_parser = count_in(1, 64), allow_negative_numbers = true, conflicts_with = "ingest")]
    readers: usize,
    /// Threads of tickbus's parallel executor, for tickbus and tickbus_fold (and
    /// tickbus_always), 1 to 256 (default: its own default).
    #[arg(long, conflicts_with_all = ["sequential", "ingest"], value_parser = count_in(1, 256), allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Run tickbus and tickbus_fold on tickbus's sequential executor.
    #[arg(long, conflicts_with = "ingest")]
    sequential: bool,
    /// Frames timed per sample, 1 to 1000000, at most 1000000000 events per sample (default:
    /// as many as take --sample-ms).
    #[arg(long, value_parser = count_in(1, 1_000_000), allow_negative_numbers = true)]
    frames: Option<usize>,
    /// Interleaved rounds per point: samples per contender, 1 to 10000.
    #[arg(long, default_value_t = 15, value_parser = count_in(1, 10_000), allow_negative_numbers = true)]
    rounds: usize,
    /// Target length of one sample in milliseconds, when --frames is not given, 1 to 60000.
    #[arg(long, default_value_t = 20, value_parser = millis_in(1, 60_000), allow_negative_numbers = true)]
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
    /// Producer threads with --ingest (comma-separated, 1 to 64), one point each. Default:
    /// 1,2,4.
    #[arg(long, value_delimiter = ',', value_parser = count_in(1, 64), allow_negative_numbers = true)]
    producers: Vec<usize>,
    /// Events per batch with --ingest, 1 to 1000000. Default: 256.
    #[arg(long, value_parser = count_in(1, 1_000_000), allow_negative_numbers = true)]
    batch: Option<usize>,
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
    let events = args.events_or(default_events);
    check_sizes(&events, &args.event_bytes, args.frames)?;
    anyhow::ensure!(
        !(args.also_offload_always && args.threads == Some(1)),
        "--also-offload-always needs --threads 2 or more: with one thread no system can be offloaded"
    );
    Ok(SweepConfig {
        events_per_frame: events,
        event_bytes: args.event_bytes.clone(),
        writers: args.writers,
        readers: args.readers,
        executor: args.executor(),
        also_offload_always: args.also_offload_always,
        sampling: args.sampling(),
    })
}

/// Refuses frames too large to hold in memory and samples that would run for hours.
fn check_sizes(
    events: &[usize],
    event_bytes: &[usize],
    frames: Option<usize>,
) -> anyhow::Result<()> {
    let most_events = events.iter().copied().max().unwrap_or(0);
    let largest_event = event_bytes.iter().copied().max().unwrap_or(0);
    anyhow::ensure!(
        most_events.saturating_mul(largest_event) <= MAX_FRAME_BYTES,
        "--events-per-frame {most_events} with {largest_event}-byte events: at most {MAX_FRAME_BYTES} bytes of events per frame ({} events of {largest_event} bytes)",
        MAX_FRAME_BYTES / largest_event.max(1)
    );
    if let Some(frames) = frames {
        anyhow::ensure!(
            frames.saturating_mul(most_events) <= MAX_SAMPLE_EVENTS,
            "--frames {frames} with --events-per-frame {most_events}: at most {MAX_SAMPLE_EVENTS} events per sample (--frames {} or fewer)",
            MAX_SAMPLE_EVENTS / most_events.max(1)
        );
    }
    Ok(())
}

fn describe(config: &SweepConfig) -> String {
    format!(
        "tickbus ({}), {} writer(s), {} reader(s)",
        config.executor.describe(),
        config.writers,
        config.readers
    )
}

/// A sweep whose arguments were checked, ready to measure.
enum Sweep {
    Throughput(SweepConfig),
    Roofline(SweepConfig),
    Ingest(IngestConfig),
}

/// Checks the sweep's own arguments (sizes, flags that need each other) and builds it.
fn plan(args: &Args) -> anyhow::Result<Sweep> {
    Ok(if args.ingest {
        Sweep::Ingest(ingest_config(args)?)
    } else if args.roofline {
        anyhow::ensure!(
            args.writers == 1,
            "--roofline measures one writer (--writers 1)"
        );
        Sweep::Roofline(throughput_config(args, &[1_000_000])?)
    } else {
        Sweep::Throughput(throughput_config(
            args,
            &[1_000, 10_000, 100_000, 1_000_000],
        )?)
    })
}

fn ingest_config(args: &Args) -> anyhow::Result<IngestConfig> {
    let events = args.events_or(&[10_000, 100_000]);
    check_sizes(&events, &[size_of::<Payload>()], args.frames)?;
    Ok(IngestConfig {
        events_per_frame: events,
        producers: if args.producers.is_empty() {
            vec![1, 2, 4]
        } else {
            args.producers.clone()
        },
        batch: args.batch.unwrap_or(256),
        sampling: args.sampling(),
    })
}

/// Measures the sweep, with a progress bar.
fn measure(sweep: &Sweep) -> Report {
    match sweep {
        Sweep::Throughput(config) => throughput_report(config),
        Sweep::Roofline(config) => roofline_report(config),
        Sweep::Ingest(config) => ingest_report(config),
    }
}

fn throughput_report(config: &SweepConfig) -> Report {
    let measured = measure_with_progress(
        &config.points(),
        config.sampling.rounds,
        |(events, bytes)| format!("{events} × {bytes} B"),
        |(events, bytes), round_done| throughput::measure_point(config, events, bytes, round_done),
    );
    report(
        "throughput",
        describe(config),
        config.sampling,
        throughput::ratio_specs(config.also_offload_always),
        measured,
    )
}

fn roofline_report(config: &SweepConfig) -> Report {
    let measured = measure_with_progress(
        &config.points(),
        config.sampling.rounds,
        |(events, bytes)| format!("roofline, {events} × {bytes} B"),
        |(events, bytes), round_done| roofline::measure_point(config, events, bytes, round_done),
    );
    report(
        "roofline",
        describe(config),
        config.sampling,
        roofline::ratio_specs(),
        measured,
    )
}

fn ingest_report(config: &IngestConfig) -> Report {
    let measured = measure_with_progress(
        &config.points(),
        config.sampling.rounds,
        |(events, producers)| format!("{events} from {producers} producer(s)"),
        |(events, producers), round_done| {
            ingest::measure_point(config, events, producers, round_done)
        },
    );
    report(
        "ingest",
        format!(
            "tickbus (default executor), unbounded source, batches of {}",
            config.batch
        ),
        config.sampling,
        ingest::ratio_specs(),
        measured,
    )
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

/// Checks the arguments, then the output files, measures, prints the table, writes the files.
fn run(args: &Args) -> anyhow::Result<()> {
    // Checked here, not by clap's `requires`, which lets a flag pass when another flag given
    // conflicts with the one it requires (`--producers 2 --event-bytes 16`).
    anyhow::ensure!(
        args.ingest || (args.producers.is_empty() && args.batch.is_none()),
        "--producers and --batch describe the --ingest sweep: add --ingest"
    );
    check_output_names(args)?;
    // The sweep is checked before any file is opened, so a refused run creates none.
    let sweep = plan(args)?;
    let outputs = Outputs::open(args)?;
    let report = measure(&sweep);
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
            "--plot {}: the plot is drawn as SVG; give a file name such as plot.svg",
            path.display()
        );
    }
    Ok(())
}

/// The files a run writes once it has measured, opened before it measures.
struct Outputs {
    json: Option<OutputFile>,
    plot: Option<OutputFile>,
}

impl Outputs {
    fn open(args: &Args) -> anyhow::Result<Self> {
        let open = |path: &Option<PathBuf>, what| {
            path.as_deref()
                .map(|path| OutputFile::open(path, what))
                .transpose()
        };
        let outputs = Self {
            json: open(&args.json, "the samples (--json)")?,
            plot: open(&args.plot, "the plot (--plot)")?,
        };
        let both = Vec::from_iter(outputs.json.iter().chain(&outputs.plot));
        OutputFile::refuse_overwriting(&both, &[])?;
        Ok(outputs)
    }

    /// Writes both files; one that fails does not keep the other from being written.
    fn write(self, report: &Report) -> anyhow::Result<()> {
        let json = self.json.map(|mut json| {
            json.write(|out| out.write_all(report.to_json().as_bytes()));
            json.finish()
        });
        let plot = self.plot.map(|mut plot| {
            let svg = render_svg(report).context("cannot draw the plot (--plot)")?;
            plot.write(|out| out.write_all(svg.as_bytes()));
            plot.finish()
        });
        let errors: Vec<String> = [json, plot]
            .into_iter()
            .flatten()
            .filter_map(Result::err)
            .map(|error| format!("{error:#}"))
            .collect();
        anyhow::ensure!(errors.is_empty(), "{}", errors.join("\nerror: "));
        Ok(())
    }
}

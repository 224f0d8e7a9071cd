//! `game-demo replay FILE --timedemo [--json] [--trace TRACE.json]`: one recording replayed
//! as a benchmark (checkpoints still verified): tick time, events per type, time per system
//! and parallelism as a table, or every tick as JSON; `--trace` writes the system runs of
//! every tick as a Chrome trace (chrome://tracing, ui.perfetto.dev).

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context;
use game_demo::game::Asteroids;
use serde::Serialize;
use tickbus::{
    ChromeTrace, ExecutorKind,
    replay::{Scenario, Timedemo, TimedemoRecords, TimedemoReport},
};

use super::say;

/// What to run and print.
#[derive(Debug)]
pub struct TimedemoOptions<'a> {
    /// The scenario file.
    pub file: &'a Path,
    /// The executor.
    pub executor: ExecutorKind,
    /// Refuse scenarios longer than this.
    pub max_ticks: u64,
    /// Print the per-tick records as JSON instead of the table.
    pub json: bool,
    /// Write a Chrome trace here.
    pub trace: Option<&'a PathBuf>,
    /// Print the timedemo table (false: the replay's line only, for `replay --trace`).
    pub table: bool,
}

/// The JSON printed by `--timedemo --json`.
#[derive(Serialize)]
struct TimedemoJson<'a> {
    file: String,
    verified: bool,
    replay: String,
    #[serde(flatten)]
    records: &'a TimedemoRecords,
}

/// Runs the timedemo. Exit code 0 verified, 1 diverged (2, an error, is the caller's).
pub fn timedemo(options: &TimedemoOptions) -> anyhow::Result<ExitCode> {
    let file = options.file;
    let scenario = Scenario::load::<Asteroids>(file)?;
    anyhow::ensure!(
        scenario.ticks <= options.max_ticks,
        "{}: the scenario runs {} ticks, more than the limit of {} (--max-ticks raises it)",
        file.display(),
        scenario.ticks,
        options.max_ticks
    );
    let report = Timedemo::<Asteroids>::new(&scenario)
        .executor(options.executor)
        .trace(options.trace.is_some())
        .run()
        .with_context(|| format!("cannot replay {}", file.display()))?;
    if let (Some(path), Some(trace)) = (options.trace, &report.trace) {
        write_trace(path, trace)?;
    }
    print(options, &report)?;
    Ok(if report.replay.is_verified() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print(options: &TimedemoOptions, report: &TimedemoReport) -> anyhow::Result<()> {
    let file = options.file.display().to_string();
    if options.json {
        let json = TimedemoJson {
            verified: report.replay.is_verified(),
            replay: report.replay.to_string(),
            file,
            records: &report.records,
        };
        say(serde_json::to_string(&json).context("cannot write JSON")?);
        return Ok(());
    }
    say(format!("{file}: {}", report.replay));
    if options.table {
        say(format!("\n{}", report.records.summary()));
    }
    Ok(())
}

fn write_trace(path: &Path, trace: &ChromeTrace) -> anyhow::Result<()> {
    let cannot = || format!("cannot write the trace to {}", path.display());
    let mut out = BufWriter::new(File::create(path).with_context(cannot)?);
    serde_json::to_writer(&mut out, trace).with_context(cannot)?;
    out.flush().with_context(cannot)
}

//! `game-demo replay FILE --timedemo [--json[=FILE]] [--trace TRACE.json]`: one recording
//! replayed as a benchmark (checkpoints still verified): the replay's line, then tick time,
//! events per type, time per system and parallelism as a table, or the replay's report and
//! every tick as JSON. `--trace` writes the system runs of every tick as a Chrome trace
//! (chrome://tracing, ui.perfetto.dev); without `--timedemo` the output is plain `replay`'s.

use std::{path::Path, process::ExitCode};

use game_demo::{
    game::Asteroids,
    output::OutputFile,
    scenarios::{self, FileReport, Outcome, ReplayOptions},
};
use serde::Serialize;
use tickbus::{
    ChromeTrace,
    replay::{Timedemo, TimedemoRecords, TimedemoReport},
};

use super::{fail, output::JsonOutput, replay_files, say};

/// What to run and where its output goes (the files already opened).
#[derive(Debug)]
pub struct TimedemoOptions<'a> {
    /// The scenario file.
    pub file: &'a Path,
    /// The executor and the tick limit.
    pub replay: ReplayOptions,
    /// Where the JSON goes, if anywhere.
    pub json: JsonOutput,
    /// The Chrome trace's file.
    pub trace: Option<OutputFile>,
    /// Print the timedemo (false: the replay's output, for `replay --trace`).
    pub table: bool,
}

/// The JSON of `--timedemo --json`: the replay's report (as `replay --json` gives it, a
/// divergence explained) and every tick's record.
#[derive(Serialize)]
struct TimedemoJson<'a> {
    file: &'a str,
    verified: bool,
    replay: &'a Outcome,
    #[serde(flatten)]
    records: &'a TimedemoRecords,
}

/// Runs the timedemo and prints its results, then writes the trace. Exit code 0 verified,
/// 1 diverged, 2 unreadable or an output not written (the results are printed all the same).
pub fn timedemo(options: TimedemoOptions) -> ExitCode {
    let TimedemoOptions {
        file,
        replay,
        json,
        trace,
        table,
    } = options;
    let tracing = trace.is_some();
    let mut measured = None;
    let mut run = |scenario: &_| {
        let TimedemoReport {
            replay: report,
            records,
            trace: runs,
        } = Timedemo::<Asteroids>::new(scenario)
            .executor(replay.executor)
            .trace(tracing)
            .run()?;
        measured = Some((records, runs));
        Ok(report)
    };
    let code = if table {
        let report = scenarios::replay_file(file, &replay, |scenario| {
            super::announce_long_replay(file, scenario.ticks, scenario.tick_rate);
            run(scenario)
        });
        let records = measured.as_ref().map(|(records, _)| records);
        print_timedemo(&report, records, json)
    } else {
        replay_files(&[file.to_path_buf()], &replay, json, run)
    };
    // Also after a divergence: the trace shows how the ticks up to it ran.
    let runs = measured.as_ref().and_then(|(_, runs)| runs.as_ref());
    match write_trace(trace, runs) {
        Ok(()) => code,
        Err(error) => fail(&error),
    }
}

/// Prints the replay's line (as `replay` prints it) and the table, or the JSON object, and
/// finishes the JSON file. `records` is `None` when the file could not be replayed.
fn print_timedemo(
    report: &FileReport,
    records: Option<&TimedemoRecords>,
    mut json: JsonOutput,
) -> ExitCode {
    let records = match (&report.outcome, records) {
        (_, Some(records)) => records,
        (Outcome::Unreadable { error }, None) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
        // Not reached: a file named on its own is refused, not skipped.
        (_, None) => {
            eprintln!("error: {report}");
            return ExitCode::from(2);
        }
    };
    if json.text() {
        say(report);
        say(format!("\n{}", records.summary()));
    }
    json.object(&TimedemoJson {
        file: &report.file,
        verified: report.exit_code() == 0,
        replay: &report.outcome,
        records,
    });
    if let Err(error) = json.finish() {
        return fail(&error);
    }
    ExitCode::from(report.exit_code())
}

/// Writes `runs` to the trace file. Without runs (the replay did not start) nothing is
/// written, and a file created for it is removed.
fn write_trace(file: Option<OutputFile>, runs: Option<&ChromeTrace>) -> anyhow::Result<()> {
    let (Some(mut file), Some(runs)) = (file, runs) else {
        return Ok(());
    };
    file.write(|out| Ok(serde_json::to_writer(out, runs)?));
    file.finish()
}

//! The command line: arguments (clap) and one function per subcommand.

mod keyboard;
mod output;
mod play;
mod rewind;
mod screen;
mod terminal;
mod timedemo;
mod travel;

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use game_demo::{
    bot::{Bot, BotKind},
    game::{Asteroids, AsteroidsConfig, Games, Level, Lives, Score},
    output::OutputFile,
    scenarios::{
        self, AsteroidsScenario, DEFAULT_MAX_TICKS, FileReport, OtherGames, ReplayOptions, Shard,
    },
};
use output::JsonOutput;
use tickbus::{
    ExecutorKind,
    replay::{
        DEFAULT_CHECKPOINT_EVERY, Game, Recorder, ReplayError, ReplayReport, RunSetup, build_game,
    },
};

/// An asteroids game on the tickbus engine: play it, record it, replay it.
#[derive(Parser, Debug)]
#[command(
    name = "game-demo",
    version,
    after_help = "Without a subcommand: plays when stdin and stdout are terminals, otherwise \
                  replays every scenario in scenarios/ and prints the summary."
)]
pub struct Arguments {
    #[command(subcommand)]
    command: Option<Subcommands>,
}

#[derive(Subcommand, Debug)]
enum Subcommands {
    /// Play in this terminal (arrows or WASD turn and thrust, space fires, q quits).
    Play(PlayArgs),
    /// Record a game played by a bot, headless, as a scenario file.
    Record(RecordArgs),
    /// Replay scenario files and verify every checkpoint.
    Replay(ReplayArgs),
    /// Print the game's schedule plan: the systems, what may run at the same time, and why
    /// each ordering exists.
    Plan(PlanArgs),
}

/// Which executor runs the systems.
#[derive(Args, Debug, Clone, Copy)]
struct ExecutorArgs {
    /// Run systems on this many threads (the driving thread included).
    #[arg(long, value_name = "N", conflicts_with = "sequential", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// Run every system on one thread, in order (the reference executor).
    #[arg(long)]
    sequential: bool,
}

impl ExecutorArgs {
    fn executor(self) -> ExecutorKind {
        match (self.sequential, self.threads) {
            (true, _) => ExecutorKind::Sequential,
            (false, Some(threads)) => ExecutorKind::parallel(usize::from(threads)),
            (false, None) => ExecutorKind::default(),
        }
    }
}

/// The game's configuration presets.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Preset {
    /// The arcade game.
    #[default]
    Classic,
    /// A wide arena with thousands of rocks.
    Stress,
}

impl Preset {
    fn config(self) -> AsteroidsConfig {
        match self {
            Preset::Classic => AsteroidsConfig::default(),
            Preset::Stress => AsteroidsConfig::stress(),
        }
    }
}

#[derive(Args, Debug)]
struct PlayArgs {
    /// The simulation seed (default: from the clock; printed when the game ends).
    #[arg(long)]
    seed: Option<u64>,
    /// Write the game to this scenario file when it ends (atomically; if that fails, to a
    /// new file in the temporary directory, named in the error).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Let a bot play (attract mode): hunter, spinner or idle.
    #[arg(long, value_name = "NAME", value_parser = parse_bot)]
    bot: Option<BotKind>,
    /// The game's configuration.
    #[arg(long, value_enum, default_value_t)]
    preset: Preset,
    #[command(flatten)]
    executor: ExecutorArgs,
}

#[derive(Args, Debug)]
struct RecordArgs {
    /// The simulation seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ticks to record (60 per second of game time).
    #[arg(long)]
    ticks: u64,
    /// The bot that plays: hunter (aims, shoots, dodges), spinner or idle.
    #[arg(long, value_name = "NAME", default_value = "hunter", value_parser = parse_bot)]
    bot: BotKind,
    /// The scenario file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The game's configuration.
    #[arg(long, value_enum, default_value_t)]
    preset: Preset,
    /// Take a checkpoint (state hash) every this many ticks.
    #[arg(long, value_name = "TICKS", default_value_t = DEFAULT_CHECKPOINT_EVERY)]
    checkpoint_every: u64,
    /// Store every registered value at each checkpoint, not only hashes, so that a replay
    /// that diverges names the entities and values from the file alone (`replay --bisect`).
    #[arg(long)]
    values: bool,
    #[command(flatten)]
    executor: ExecutorArgs,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// Scenario files or directories of them (default: scenarios/).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print one JSON object per file instead of text; with =FILE, write those lines to
    /// FILE instead of stdout (the text still goes to stdout). FILE is opened before the run.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
    json: Option<Option<PathBuf>>,
    /// Replay only shard I of N (0 <= I < N): the files whose position in the sorted list
    /// is I modulo N, so N machines split a set of recordings without overlap.
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// Refuse scenarios of more ticks than this (a replay cannot be stopped half-way).
    #[arg(long, value_name = "TICKS", default_value_t = DEFAULT_MAX_TICKS)]
    max_ticks: u64,
    /// Open one file at this tick (ticks run: 0 is the start) and print its state hash, or
    /// with --dump the world there. It restores the nearest snapshot: change detection
    /// (Changed/Added) then sees every restored value as new (see DETERMINISM.md).
    #[arg(long, value_name = "TICK", conflicts_with_all = ["json", "shard", "bisect"])]
    seek: Option<u64>,
    /// With --seek: print the world at that tick as RON (every entity with its components,
    /// every resource and event queue).
    #[arg(long, requires = "seek")]
    dump: bool,
    /// Replay one file and, if it diverges, print where: the first divergent tick, the type,
    /// the entity and the expected and found values.
    #[arg(long, conflicts_with_all = ["json", "shard"])]
    bisect: bool,
    /// Replay one file as a benchmark (checkpoints still verified) and print the replay's
    /// line, then tick time (median, p99, max), events per type per tick, time per system
    /// and how much ran in parallel; with --json, one JSON object with the replay's report
    /// and every tick's record instead (--json=FILE: into FILE, the table on stdout).
    #[arg(long, conflicts_with_all = ["shard", "seek", "bisect"])]
    timedemo: bool,
    /// Replay one file and write the system runs of every tick to this file as a Chrome
    /// trace (open it in chrome://tracing or ui.perfetto.dev): one track per thread. The
    /// output is the replay's (or with --timedemo the timedemo's); the file is opened before
    /// the run.
    #[arg(long, value_name = "TRACE.json", conflicts_with_all = ["shard", "seek", "bisect"])]
    trace: Option<PathBuf>,
    #[command(flatten)]
    executor: ExecutorArgs,
}

#[derive(Args, Debug)]
struct PlanArgs {
    /// The game's configuration.
    #[arg(long, value_enum, default_value_t)]
    preset: Preset,
}

fn parse_bot(name: &str) -> Result<BotKind, String> {
    BotKind::from_name(name).ok_or_else(|| {
        format!(
            "no bot called {name:?}; the bots are {}",
            BotKind::names().join(", ")
        )
    })
}

/// Runs the command line.
pub fn run(arguments: Arguments) -> anyhow::Result<ExitCode> {
    match arguments.command {
        Some(Subcommands::Play(args)) => play(args),
        Some(Subcommands::Record(args)) => record(args),
        Some(Subcommands::Replay(args)) => Ok(replay(args)),
        Some(Subcommands::Plan(args)) => plan(args),
        None if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() => {
            play(PlayArgs {
                seed: None,
                record: None,
                bot: None,
                preset: Preset::Classic,
                executor: ExecutorArgs {
                    threads: None,
                    sequential: false,
                },
            })
        }
        None => Ok(replay(ReplayArgs {
            files: Vec::new(),
            json: None,
            shard: None,
            max_ticks: DEFAULT_MAX_TICKS,
            seek: None,
            dump: false,
            bisect: false,
            timedemo: false,
            trace: None,
            executor: ExecutorArgs {
                threads: None,
                sequential: false,
            },
        })),
    }
}

fn play(args: PlayArgs) -> anyhow::Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(seed_from_clock);
    play::play(play::PlayOptions {
        config: args.preset.config(),
        seed,
        record: args.record,
        bot: args.bot,
        executor: args.executor.executor(),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn record(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut recorder = Recorder::<Asteroids>::builder(args.preset.config())
        .seed(args.seed)
        .checkpoint_every(args.checkpoint_every)
        .checkpoint_values(args.values)
        .executor(args.executor.executor())
        .build()
        .context("cannot build the game")?;
    let input = recorder.input();
    let mut bot = Bot::new(args.bot);
    for _ in 0..args.ticks {
        for command in bot.decide(recorder.engine().world()) {
            input
                .send(command)
                .context("the engine stopped taking input")?;
        }
        if let Err(error) = recorder.tick() {
            eprintln!("the game crashed: {error} (the recording reproduces it)");
            break;
        }
    }
    let scenario = recorder.scenario();
    // The error names the file and the cause in one line (`{:#}` would repeat the cause).
    scenario
        .save(&args.out)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let world = recorder.engine().world();
    println!(
        "{}: {} ticks, {} inputs, {} checkpoints; score {}, level {}, {} lives, {} game(s); recorded in {:.1}s",
        args.out.display(),
        scenario.ticks,
        scenario.inputs.len(),
        scenario.checkpoints.len(),
        world.resource::<Score>().points,
        world.resource::<Level>().0,
        world.resource::<Lives>().0,
        world.resource::<Games>().0,
        started.elapsed().as_secs_f64()
    );
    Ok(if recorder.crash().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Replays the files and prints one line (or JSON object) per file, then a summary line.
/// The exit code is the worst outcome: 2 unreadable (or an output not written), 1
/// diverged, 0 all verified.
fn replay(args: ReplayArgs) -> ExitCode {
    if args.seek.is_some() || args.bisect {
        return travel(&args);
    }
    if args.timedemo || args.trace.is_some() {
        return timedemo(&args);
    }
    let paths = if args.files.is_empty() {
        vec![scenarios_dir()]
    } else {
        args.files.clone()
    };
    // A directory holds whatever was recorded into it: another game's files there are
    // skipped; a file named on its own was meant to be replayed, so it is refused.
    let other_games = if paths.iter().any(|path| path.is_dir()) {
        OtherGames::Skip
    } else {
        OtherGames::Refuse
    };
    let files = match scenarios::select_files(&paths, args.shard) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("error: cannot list the scenario files: {error}");
            return ExitCode::from(2);
        }
    };
    let json = JsonOutput::open(args.json.as_ref()).and_then(|json| {
        // Every scenario named, not only this shard's: the others are another run's inputs.
        let every_file = scenarios::select_files(&paths, None)?;
        OutputFile::refuse_overwriting(&Vec::from_iter(json.file()), &every_file)?;
        Ok(json)
    });
    let json = match json {
        Ok(json) => json,
        Err(error) => return fail(&error),
    };
    let options = ReplayOptions {
        executor: args.executor.executor(),
        other_games,
        max_ticks: args.max_ticks,
    };
    replay_files(&files, &options, json, |scenario| {
        scenarios::verify(scenario, options.executor)
    })
}

/// Replays each file with `run` and prints its report, then the summary line (JSON:
/// the reports only). Exit code: the worst outcome, 2 if the JSON file was not written.
fn replay_files(
    files: &[PathBuf],
    options: &ReplayOptions,
    mut json: JsonOutput,
    mut run: impl FnMut(&AsteroidsScenario) -> Result<ReplayReport, ReplayError>,
) -> ExitCode {
    let mut worst = 0;
    let mut reports = Vec::with_capacity(files.len());
    for file in files {
        let report = scenarios::replay_file(file, options, |scenario| {
            announce_long_replay(file, scenario.ticks, scenario.tick_rate);
            run(scenario)
        });
        if json.text() {
            say(&report);
        }
        json.object(&report);
        worst = worst.max(report.exit_code());
        reports.push(report);
    }
    if json.text() {
        say(summary(&reports, options.executor));
    }
    if let Err(error) = json.finish() {
        return fail(&error);
    }
    ExitCode::from(worst)
}

/// Prints `error` (its causes once each) and returns exit code 2.
fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", error_text(error));
    ExitCode::from(2)
}

/// `error` and its causes in one line, each said once: a cause is left out when the
/// message before it already includes it (a scenario's read error names its I/O error and
/// also gives it as its source, which `{:#}` would print twice).
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// Replays longer than this many ticks are announced on stderr before they start.
const LONG_REPLAY_TICKS: u64 = 1_000_000;

/// Says on stderr that a replay will take a while, so a quiet terminal is not mistaken for
/// a hang. (A replay reports only when it is done.)
fn announce_long_replay(file: &Path, ticks: u64, tick_rate: u32) {
    use std::io::Write;
    if ticks > LONG_REPLAY_TICKS {
        let hours = ticks as f64 / f64::from(tick_rate.max(1)) / 3600.0;
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}: replaying {ticks} ticks ({hours:.1} hours of game time); this takes a while",
            file.display()
        );
    }
}

/// `--seek` and `--bisect`, on exactly one file. Exit code 2 when it cannot be read or
/// reach the tick, 1 when it diverges.
fn travel(args: &ReplayArgs) -> ExitCode {
    let [file] = args.files.as_slice() else {
        eprintln!("error: --seek and --bisect take exactly one scenario file");
        return ExitCode::from(2);
    };
    let executor = args.executor.executor();
    let result = match args.seek {
        Some(tick) => travel::seek(file, tick, args.dump, executor).map(|()| ExitCode::SUCCESS),
        None => travel::bisect_file(file, executor),
    };
    result.unwrap_or_else(|error| fail(&error))
}

/// `--timedemo` and `--trace`, on exactly one file. Exit code 2 when it cannot be read or an
/// output cannot be written, 1 when it diverges.
fn timedemo(args: &ReplayArgs) -> ExitCode {
    let file = match one_scenario_file(&args.files) {
        Ok(file) => file,
        Err(error) => return fail(&error),
    };
    let outputs = JsonOutput::open(args.json.as_ref()).and_then(|json| {
        let trace = (args.trace.as_deref())
            .map(|path| OutputFile::open(path, "the trace (--trace)"))
            .transpose()?;
        let outputs = Vec::from_iter(json.file().into_iter().chain(&trace));
        OutputFile::refuse_overwriting(&outputs, &[file.to_path_buf()])?;
        Ok((json, trace))
    });
    let (json, trace) = match outputs {
        Ok(outputs) => outputs,
        Err(error) => return fail(&error),
    };
    let options = timedemo::TimedemoOptions {
        file,
        replay: ReplayOptions {
            executor: args.executor.executor(),
            other_games: OtherGames::Refuse,
            max_ticks: args.max_ticks,
        },
        json,
        trace,
        table: args.timedemo,
    };
    timedemo::timedemo(options)
}

/// The one scenario file `--timedemo` and `--trace` take.
fn one_scenario_file(files: &[PathBuf]) -> anyhow::Result<&Path> {
    let expected = "--timedemo and --trace take exactly one scenario FILE";
    match files {
        [file] if file.is_dir() => Err(anyhow::anyhow!(
            "{expected}, and {} is a directory (without them, replay verifies every file in it)",
            file.display()
        )),
        [file] => Ok(file),
        _ => Err(anyhow::anyhow!("{expected}, got {}", files.len())),
    }
}

fn summary(reports: &[FileReport], executor: ExecutorKind) -> String {
    let count = |code| reports.iter().filter(|r| r.exit_code() == code).count();
    let skipped = reports
        .iter()
        .filter(|r| matches!(r.outcome, scenarios::Outcome::Skipped { .. }))
        .count();
    let on = match executor {
        ExecutorKind::Sequential => "the sequential executor".to_owned(),
        ExecutorKind::Parallel(config) => format!("{} threads", config.threads),
    };
    format!(
        "{} file(s) on {on}: {} verified, {} diverged, {} unreadable, {skipped} skipped",
        reports.len(),
        count(0) - skipped,
        count(1),
        count(2)
    )
}

/// Prints a line on stdout. A reader that went away (`game-demo plan | head`) is not an
/// error worth a panic: the rest is dropped.
fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// `scenarios/` in the working directory, else the workspace's (where this binary was built).
fn scenarios_dir() -> PathBuf {
    let here = Path::new("scenarios");
    if here.is_dir() {
        return here.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scenarios")
}

fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let setup = RunSetup {
        seed: 0,
        tick_rate: tickbus::DEFAULT_TICK_RATE,
        executor: ExecutorKind::Sequential,
    };
    let (engine, _input) =
        build_game::<Asteroids>(&args.preset.config(), setup).context("cannot build the game")?;
    say(format!(
        "The schedule of {:?} (one tick, in registration order):\n\n{}",
        Asteroids::NAME,
        engine.schedule_plan()
    ));
    Ok(ExitCode::SUCCESS)
}

//! Replaying scenario files as `game-demo replay` does: which files (directories expanded,
//! a deterministic shard), one verification per file, and its outcome as a line of text or
//! JSON.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Serialize;
use tickbus::{
    ExecutorKind,
    replay::{Divergence, Game, ReplayError, ReplayReport, Replayer, Scenario, ScenarioError},
};

use crate::game::Asteroids;

/// One of `count` shards: a deterministic share of a list of files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: usize,
    /// The number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Parses `I/N` with `0 <= I < N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("expected I/N (such as 0/4), got {text:?}"))?;
        let number = |part: &str| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| format!("expected I/N with whole numbers, got {text:?}"))
        };
        let (index, count) = (number(index)?, number(count)?);
        if count == 0 {
            return Err(format!(
                "shard {index}/0: N is the number of shards and must be at least 1"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard {index}/{count}: I must be at least 0 and less than N (0/{count} to {}/{count})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

/// The scenario files named by `paths` (a directory stands for its `*.ron` files), sorted
/// by path and without duplicates, then this shard's share: every file whose position in
/// that order is `index` modulo `count`. The same list gives every machine the same split.
pub fn select_files(paths: &[PathBuf], shard: Option<Shard>) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(ron_files_in(path)?);
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    Ok(match shard {
        Some(Shard { index, count }) => files
            .into_iter()
            .enumerate()
            .filter(|(position, _)| position % count == index)
            .map(|(_, file)| file)
            .collect(),
        None => files,
    })
}

fn ron_files_in(directory: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "ron") {
            files.push(path);
        }
    }
    Ok(files)
}

/// What replaying one file found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileReport {
    /// The file.
    pub file: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// How the replay of one file ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Every tick ran and every checkpoint matched.
    Verified(Measured),
    /// The replay is not the recorded run.
    Diverged {
        /// How far it got.
        #[serde(flatten)]
        measured: Measured,
        /// The first divergent tick, when it is known exactly.
        first_divergent_tick: Option<u64>,
        /// The ticks the divergence arose in (`start..end`). (`ticks` is how many ran.)
        divergent_ticks: (u64, u64),
        /// The component and resource types that differ.
        components: Vec<String>,
        /// The divergence in words.
        message: String,
    },
    /// The file could not be read, parsed or accepted.
    Unreadable {
        /// Why (with line and column for a parse error).
        error: String,
    },
    /// A scenario of another game (only when replaying a whole directory).
    Skipped {
        /// The game it belongs to.
        game: String,
    },
}

/// The figures of a replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// The game.
    pub game: String,
    /// Ticks run.
    pub ticks: u64,
    /// Ticks per second of wall time.
    pub ticks_per_second: f64,
    /// Simulated time over wall time.
    pub times_real_time: f64,
    /// Checkpoints that matched.
    pub checkpoints_verified: usize,
    /// Checkpoints in the file.
    pub checkpoints_total: usize,
    /// The state hash of the last checkpoint reached, as 16 hex digits.
    pub final_hash: String,
    /// The crash the recording ended in, when the replay verified and crashed the same way
    /// (a verified replay of a crash reproduces it); `None` for a recording that did not
    /// crash and for any replay that did not verify.
    pub crash_reproduced: Option<String>,
}

impl FileReport {
    /// The exit code this outcome asks for: 0 verified or skipped, 1 diverged, 2 unreadable.
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            Outcome::Verified(_) | Outcome::Skipped { .. } => 0,
            Outcome::Diverged { .. } => 1,
            Outcome::Unreadable { .. } => 2,
        }
    }
}

impl std::fmt::Display for FileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = &self.file;
        match &self.outcome {
            Outcome::Verified(measured) => write!(f, "{file}: verified  {measured}"),
            Outcome::Diverged {
                measured, message, ..
            } => write!(f, "{file}: DIVERGED  {measured}\n  {message}"),
            Outcome::Unreadable { error } => write!(f, "{file}: ERROR  {error}"),
            Outcome::Skipped { game } => write!(
                f,
                "{file}: skipped  (a scenario of the game {game:?}; this binary replays {:?})",
                Asteroids::NAME
            ),
        }
    }
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ticks  {:.0} ticks/s  {:.1}x real time  {}/{} checkpoints  final hash {}",
            self.ticks,
            self.ticks_per_second,
            self.times_real_time,
            self.checkpoints_verified,
            self.checkpoints_total,
            self.final_hash
        )?;
        match &self.crash_reproduced {
            Some(crash) => write!(f, "  recorded crash reproduced: {crash}"),
            None => Ok(()),
        }
    }
}

/// How files of other games are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherGames {
    /// Reported as skipped (replaying a whole directory).
    Skip,
    /// Refused as unreadable (a file named on purpose).
    Refuse,
}

/// The default of [`ReplayOptions::max_ticks`]: ten million ticks, 46 hours of game time
/// at 60 Hz, minutes to replay. A file asking for more was almost certainly edited.
pub const DEFAULT_MAX_TICKS: u64 = 10_000_000;

/// How `game-demo replay` replays each file.
#[derive(Clone, Copy, Debug)]
pub struct ReplayOptions {
    /// The executor running the systems.
    pub executor: ExecutorKind,
    /// What to do with scenarios of other games.
    pub other_games: OtherGames,
    /// Scenarios of more ticks are refused before they run (a replay cannot be stopped
    /// half-way, so `ticks: 18446744073709551615` would run for ever).
    pub max_ticks: u64,
}

impl ReplayOptions {
    /// The default executor and tick limit.
    pub fn new(other_games: OtherGames) -> Self {
        Self {
            executor: ExecutorKind::default(),
            other_games,
            max_ticks: DEFAULT_MAX_TICKS,
        }
    }
}

/// Replays one file: loads it, refuses it when it is too long or of another game, and has
/// `run` replay the scenario (with the executor of `options`; [`verify`] or a timedemo).
/// The outcome, a divergence explained, is the same whatever ran the replay.
pub fn replay_file(
    path: &Path,
    options: &ReplayOptions,
    run: impl FnOnce(&AsteroidsScenario) -> Result<ReplayReport, ReplayError>,
) -> FileReport {
    let file = path.display().to_string();
    let outcome = match Scenario::load::<Asteroids>(path) {
        Ok(scenario) if scenario.ticks > options.max_ticks => Outcome::Unreadable {
            error: format!(
                "{file}: the scenario runs {} ticks, more than the limit of {} \
                 (--max-ticks raises it)",
                scenario.ticks, options.max_ticks
            ),
        },
        Ok(scenario) => match run(&scenario) {
            Ok(report) => outcome(&scenario, &report),
            Err(error) => Outcome::Unreadable {
                error: error.to_string(),
            },
        },
        // Refused as soon as the parser reads the game's name: the file is parsed once.
        Err(ScenarioError::WrongGame { found, .. }) if options.other_games == OtherGames::Skip => {
            Outcome::Skipped { game: found }
        }
        Err(error) => Outcome::Unreadable {
            error: error.to_string(),
        },
    };
    FileReport { file, outcome }
}

/// Replays `scenario` on `executor`, verifying every checkpoint.
pub fn verify(
    scenario: &AsteroidsScenario,
    executor: ExecutorKind,
) -> Result<ReplayReport, ReplayError> {
    Replayer::<Asteroids>::new(scenario)
        .executor(executor)
        .run()
}

/// A scenario of the asteroids game.
pub type AsteroidsScenario = Scenario<<Asteroids as Game>::Config, <Asteroids as Game>::Input>;

/// What `report`, a replay of `scenario`, found.
fn outcome(scenario: &AsteroidsScenario, report: &ReplayReport) -> Outcome {
    let measured = measured(scenario, report);
    match &report.divergence {
        None if report.is_verified() => Outcome::Verified(measured),
        None => diverged(
            measured,
            None,
            (report.ticks_run, report.ticks_total),
            Vec::new(),
            format!("{report}"),
        ),
        Some(divergence) => {
            let ticks = divergence.ticks();
            let components = match divergence {
                Divergence::State { components, .. } => components.clone(),
                _ => Vec::new(),
            };
            let mut message = divergence_message(divergence);
            if let Some(cause) = report.likely_cause() {
                message = format!("{message}; {cause}");
            }
            diverged(
                measured,
                divergence.first_divergent_tick(),
                (ticks.start, ticks.end),
                components,
                message,
            )
        }
    }
}

fn measured(scenario: &AsteroidsScenario, report: &ReplayReport) -> Measured {
    let simulated = Duration::from_secs(1) / scenario.tick_rate.max(1);
    let simulated = simulated.as_secs_f64() * report.ticks_run as f64;
    Measured {
        game: scenario.game.clone(),
        ticks: report.ticks_run,
        ticks_per_second: report.ticks_per_second(),
        times_real_time: simulated / report.elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
        checkpoints_verified: report.checkpoints_verified,
        checkpoints_total: report.checkpoints_total,
        final_hash: report
            .hashes
            .last()
            .map_or_else(|| "-".to_owned(), |(_, hash)| format!("{hash:016x}")),
        crash_reproduced: report
            .crash
            .as_ref()
            // Verified means no divergence: the crash was the recorded one. A replay that did
            // not verify says what it found in its message, crash included.
            .filter(|_| report.is_verified())
            .map(ToString::to_string),
    }
}

/// The divergence in words, starting with its first tick when that is known exactly.
fn divergence_message(divergence: &Divergence) -> String {
    let described = match divergence {
        // Every part matches, so only the recorded combined hash can be wrong: say so
        // instead of listing no component.
        Divergence::State {
            tick,
            components,
            expected,
            found,
            ..
        } if components.is_empty() => {
            let ticks = divergence.ticks();
            format!(
                "state differs at checkpoint {tick} (arose in ticks {}..{}): every component \
                 and resource matches, only the combined hash differs (recorded {expected:016x}, \
                 replayed {found:016x}); the file's hash was probably edited",
                ticks.start, ticks.end
            )
        }
        _ => divergence.to_string(),
    };
    match divergence.first_divergent_tick() {
        Some(tick) => format!("first divergent tick {tick}: {described}"),
        None => described,
    }
}

fn diverged(
    measured: Measured,
    first_divergent_tick: Option<u64>,
    divergent_ticks: (u64, u64),
    components: Vec<String>,
    message: String,
) -> Outcome {
    Outcome::Diverged {
        measured,
        first_divergent_tick,
        divergent_ticks,
        components,
        message,
    }
}

#[cfg(test)]
mod tests {
    use tickbus::TickError;

    use super::*;

    /// A scenario of the game as recorded with default settings (no ticks).
    fn scenario() -> AsteroidsScenario {
        tickbus::replay::Recorder::<Asteroids>::builder(Default::default())
            .build()
            .expect("the game builds")
            .scenario()
    }

    /// The report of a replay that ran `ticks_run` of `ticks_total` ticks, found nothing and
    /// verified no checkpoint (tests set what they look at).
    fn report(ticks_run: u64, ticks_total: u64) -> ReplayReport {
        ReplayReport {
            ticks_run,
            ticks_total,
            elapsed: Duration::from_millis(5),
            checkpoints_verified: 0,
            checkpoints_total: 0,
            hashes: Vec::new(),
            crash: None,
            divergence: None,
            composition_changes: Vec::new(),
            executor: Default::default(),
        }
    }

    #[test]
    fn a_divergence_names_a_changed_app_as_its_likely_cause() {
        let scenario = scenario();
        let divergence = Divergence::State {
            tick: 120,
            last_verified: Some(60),
            components: vec!["Score".to_owned()],
            expected: 1,
            found: 2,
        };
        let report = ReplayReport {
            checkpoints_verified: 1,
            checkpoints_total: 10,
            hashes: vec![(60, 7)],
            divergence: Some(divergence),
            composition_changes: vec!["system `drift` added".to_owned()],
            ..report(120, 600)
        };
        let Outcome::Diverged { message, .. } = outcome(&scenario, &report) else {
            panic!("a divergence");
        };
        assert!(message.contains("Score"), "{message}");
        assert!(
            message.contains(
                "likely cause: the app differs from the one that recorded (system `drift` added)"
            ),
            "{message}"
        );
    }

    /// A crash of `system` in tick 37: the recording it ends has 38 ticks.
    fn crash(system: &str) -> TickError {
        TickError::SystemPanicked {
            system: system.to_owned(),
            tick: 37,
            message: "no ship".to_owned(),
        }
    }

    #[test]
    fn a_verified_replay_of_a_crash_says_that_the_crash_was_reproduced() {
        let crash = crash("ship_crashes");
        let report = ReplayReport {
            crash: Some(crash.clone()),
            ..report(38, 38)
        };
        let outcome = outcome(&scenario(), &report);
        let Outcome::Verified(measured) = &outcome else {
            panic!("a reproduced crash is verified: {outcome:?}");
        };
        assert_eq!(measured.crash_reproduced, Some(crash.to_string()));
        let shown = FileReport {
            file: "crash.ron".to_owned(),
            outcome: outcome.clone(),
        }
        .to_string();
        assert!(
            shown.ends_with(&format!("recorded crash reproduced: {crash}")),
            "{shown}"
        );
    }

    #[test]
    fn only_a_verified_replay_of_the_recorded_crash_names_it_reproduced() {
        let recorded = crash("ship_crashes");
        let other = crash("split_rocks");
        let unexpected = ReplayReport {
            crash: Some(other.clone()),
            divergence: Some(Divergence::UnexpectedCrash(other.clone())),
            ..report(38, 600)
        };
        let different = ReplayReport {
            crash: Some(other.clone()),
            divergence: Some(Divergence::CrashNotReproduced {
                expected: (&recorded).into(),
                found: Some(other.clone()),
            }),
            ..report(38, 38)
        };
        // The recorded crash came, but a checkpoint was not verified.
        let unverified = ReplayReport {
            crash: Some(recorded),
            checkpoints_total: 1,
            ..report(38, 38)
        };
        for (report, other_crash) in [(unexpected, true), (different, true), (unverified, false)] {
            let outcome = outcome(&scenario(), &report);
            let Outcome::Diverged { measured, .. } = &outcome else {
                panic!("not verified: {outcome:?}");
            };
            assert_eq!(measured.crash_reproduced, None, "{outcome:?}");
            let shown = FileReport {
                file: "crash.ron".to_owned(),
                outcome: outcome.clone(),
            }
            .to_string();
            assert!(
                !(other_crash && shown.contains("reproduced:")),
                "another crash is not the recorded one: {shown}"
            );
        }
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("x/2".parse::<Shard>().is_err());
        assert!("3".parse::<Shard>().is_err());
    }

    #[test]
    fn shard_errors_name_the_valid_range() {
        assert_eq!(
            "1/0".parse::<Shard>(),
            Err("shard 1/0: N is the number of shards and must be at least 1".to_owned())
        );
        assert_eq!(
            "3/3".parse::<Shard>(),
            Err("shard 3/3: I must be at least 0 and less than N (0/3 to 2/3)".to_owned())
        );
    }

    #[test]
    fn shards_split_the_sorted_list_without_overlap() {
        let files: Vec<PathBuf> = ["d.ron", "a.ron", "c.ron", "b.ron", "e.ron"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
        let shard = |index| select_files(&files, Some(Shard { index, count: 2 })).unwrap();
        assert_eq!(shard(0), ["a.ron", "c.ron", "e.ron"].map(PathBuf::from));
        assert_eq!(shard(1), ["b.ron", "d.ron"].map(PathBuf::from));
    }
}

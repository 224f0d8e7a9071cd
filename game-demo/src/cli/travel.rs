//! `game-demo replay FILE --seek TICK [--dump]` and `game-demo replay FILE --bisect`: the
//! world at any tick of a recording, and where a diverging recording left its course, down
//! to the entity and the values.

use std::{path::Path, process::ExitCode};

use anyhow::Context;
use game_demo::game::Asteroids;
use tickbus::{
    ExecutorKind,
    replay::{Scenario, Timeline, bisect},
};

use super::say;

/// Opens `file` at `tick` and prints its state hash, or (with `dump`) the whole world there
/// as RON: every entity with its registered components, every resource and event queue.
pub fn seek(file: &Path, tick: u64, dump: bool, executor: ExecutorKind) -> anyhow::Result<()> {
    let scenario = Scenario::load::<Asteroids>(file)?;
    let mut timeline = Timeline::<Asteroids>::open(&scenario, executor)
        .with_context(|| format!("cannot open {} for time travel", file.display()))?;
    timeline
        .seek(tick)
        .with_context(|| format!("cannot seek {} to tick {tick}", file.display()))?;
    if dump {
        let snapshot = timeline.snapshot().context("cannot take a snapshot")?;
        say(snapshot.to_ron().trim_end());
    } else {
        let hash = timeline.hash();
        say(format!(
            "{}: tick {tick} of {}, state hash {:016x}",
            file.display(),
            timeline.end(),
            hash.total
        ));
    }
    Ok(())
}

/// Replays `file` and, if it diverges, prints the divergence report: first divergent tick,
/// type, entity and values (or, where the recording has only hashes, what it can say and
/// how to get more). Exit code 0 verified, 1 diverged.
pub fn bisect_file(file: &Path, executor: ExecutorKind) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load::<Asteroids>(file)?;
    let report = bisect::<Asteroids>(&scenario, executor)
        .with_context(|| format!("cannot replay {}", file.display()))?;
    Ok(match report {
        None => {
            say(format!("{}: verified, no divergence", file.display()));
            ExitCode::SUCCESS
        }
        Some(report) => {
            say(format!(
                "{}: DIVERGED\n{}",
                file.display(),
                report.to_string().trim_end()
            ));
            ExitCode::from(1)
        }
    })
}

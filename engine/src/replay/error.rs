//! Why a scenario could not be read, written or accepted.

use std::io;

/// Why a scenario file (or text) was refused. `file` is the path, or the origin name given
/// to [`Scenario::parse`](super::Scenario::parse). Bad input is always one of these, never a
/// panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The path.
        file: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {file}: {source}")]
    Write {
        /// The path.
        file: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The text is not valid RON, or not the shape of a scenario: `error` says what was
    /// expected at `line`:`column` (1-based).
    #[error("{file}:{line}:{column}: {error}")]
    Malformed {
        /// The path or origin.
        file: String,
        /// The line of the problem, from 1.
        line: usize,
        /// The column of the problem, from 1.
        column: usize,
        /// What was wrong or expected there.
        error: ron::Error,
    },
    /// The scenario was written in a format version this build cannot read.
    #[error(
        "{file}: format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The path or origin.
        file: String,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The scenario belongs to another game.
    #[error("{file}: a scenario of the game {found:?}, not of {expected:?}")]
    WrongGame {
        /// The path or origin.
        file: String,
        /// The game that was asked to replay it.
        expected: String,
        /// The game named in the file.
        found: String,
    },
    /// The tick rate is zero.
    #[error("{file}: the tick rate must be greater than zero")]
    ZeroTickRate {
        /// The path or origin.
        file: String,
    },
    /// An input is stamped with an earlier tick than the input before it.
    #[error("{file}: inputs[{index}] is for tick {tick}, after an input for tick {previous}")]
    InputOutOfOrder {
        /// The path or origin.
        file: String,
        /// The input's index in `inputs`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The tick of the input before it.
        previous: u64,
    },
    /// An input is stamped with a tick the scenario never runs.
    #[error("{file}: inputs[{index}] is for tick {tick}, but the scenario runs ticks 0..{ticks}")]
    InputAfterEnd {
        /// The path or origin.
        file: String,
        /// The input's index in `inputs`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The scenario's tick count.
        ticks: u64,
    },
    /// Checkpoints are not in strictly increasing tick order.
    #[error("{file}: checkpoints[{index}] is at tick {tick}, not after the one at tick {previous}")]
    CheckpointOutOfOrder {
        /// The path or origin.
        file: String,
        /// The checkpoint's index in `checkpoints`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The tick of the checkpoint before it.
        previous: u64,
    },
    /// A checkpoint lies beyond the scenario's tick count.
    #[error("{file}: checkpoints[{index}] is at tick {tick}, beyond the scenario's {ticks} ticks")]
    CheckpointAfterEnd {
        /// The path or origin.
        file: String,
        /// The checkpoint's index in `checkpoints`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The scenario's tick count.
        ticks: u64,
    },
    /// A recorded crash must be in the scenario's last tick (a run ends at its crash).
    #[error(
        "{file}: the crash is recorded in tick {tick}, but a run of {ticks} ticks can only end with a crash in its last tick"
    )]
    CrashNotInLastTick {
        /// The path or origin.
        file: String,
        /// The crash's tick.
        tick: u64,
        /// The scenario's tick count.
        ticks: u64,
    },
    /// The scenario could not be turned into RON (a config or input type refused to
    /// serialize).
    #[error("cannot write the scenario as RON: {0}")]
    Serialize(ron::Error),
}

impl ScenarioError {
    pub(crate) fn malformed(file: &str, error: ron::error::SpannedError) -> Self {
        ScenarioError::Malformed {
            file: file.to_owned(),
            line: error.position.line,
            column: error.position.col,
            error: error.code,
        }
    }
}

//! Why a scenario could not be read, written or accepted.

use std::{fmt, io};

/// Why a scenario file (or text) was refused. `file` is the path, or the origin name given
/// to [`Scenario::parse`](super::Scenario::parse). Bad input is always one of these, never a
/// panic.
///
/// Errors about a value of a parsed file carry the `position` of that value in the text
/// (`None` only for a scenario built in memory); their message then starts with
/// `file:line:column`.
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
    /// The file is not a regular file (a directory, a pipe, a device): reading it might
    /// never end.
    #[error("cannot read {file}: not a regular file")]
    NotAFile {
        /// The path.
        file: String,
    },
    /// The file is larger than the loading limit
    /// ([`LoadOptions::max_bytes`](super::LoadOptions::max_bytes)).
    #[error(
        "cannot read {file}: larger than the limit of {limit} bytes (raise it with LoadOptions::max_bytes)"
    )]
    TooLarge {
        /// The path or origin.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file could not be written. Nothing was lost: the previous file (if any) is intact
    /// and the scenario is still in memory, so the save can be retried.
    #[error("cannot write {file}: {source}")]
    Write {
        /// The path.
        file: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The text is not UTF-8: the first invalid byte is at `line`:`column` (1-based).
    #[error("{file}:{line}:{column}: not UTF-8 text")]
    NotUtf8 {
        /// The path or origin.
        file: String,
        /// The line of the first invalid byte, from 1.
        line: usize,
        /// Its column (characters), from 1.
        column: usize,
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
        error: FormatError,
    },
    /// The scenario was written in a format version this build cannot read.
    #[error(
        "{}: format version {found} is not supported (this build reads versions 1 to {supported})",
        located(.file, .position)
    )]
    UnsupportedVersion {
        /// The path or origin.
        file: String,
        /// Where the version is written.
        position: Option<TextPosition>,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads (it reads every version from 1 on).
        supported: u32,
    },
    /// The scenario belongs to another game.
    #[error(
        "{}: a scenario of the game {found:?}, not of {expected:?}",
        located(.file, .position)
    )]
    WrongGame {
        /// The path or origin.
        file: String,
        /// Where the game's name is written.
        position: Option<TextPosition>,
        /// The game that was asked to replay it.
        expected: String,
        /// The game named in the file.
        found: String,
    },
    /// The tick rate is zero.
    #[error("{}: the tick rate must be greater than zero", located(.file, .position))]
    ZeroTickRate {
        /// The path or origin.
        file: String,
        /// Where the tick rate is written.
        position: Option<TextPosition>,
    },
    /// The tick rate is so high that a tick would last less than a nanosecond.
    #[error(
        "{}: a tick rate of {tick_rate} is above the maximum of {max} (a tick must last at least 1 ns)",
        located(.file, .position),
        max = MAX_TICK_RATE
    )]
    TickRateTooHigh {
        /// The path or origin.
        file: String,
        /// Where the tick rate is written.
        position: Option<TextPosition>,
        /// The tick rate in the file.
        tick_rate: u32,
    },
    /// An input is stamped with an earlier tick than the input before it.
    #[error(
        "{}: inputs[{index}] is for tick {tick}, after an input for tick {previous}",
        located(.file, .position)
    )]
    InputOutOfOrder {
        /// The path or origin.
        file: String,
        /// Where the input's tick is written.
        position: Option<TextPosition>,
        /// The input's index in `inputs`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The tick of the input before it.
        previous: u64,
    },
    /// An input is stamped with a tick the scenario never runs.
    #[error(
        "{}: inputs[{index}] is for tick {tick}, but the scenario runs ticks 0..{ticks}",
        located(.file, .position)
    )]
    InputAfterEnd {
        /// The path or origin.
        file: String,
        /// Where the input's tick is written.
        position: Option<TextPosition>,
        /// The input's index in `inputs`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The scenario's tick count.
        ticks: u64,
    },
    /// Checkpoints are not in strictly increasing tick order.
    #[error(
        "{}: checkpoints[{index}] is at tick {tick}, not after the one at tick {previous}",
        located(.file, .position)
    )]
    CheckpointOutOfOrder {
        /// The path or origin.
        file: String,
        /// Where the checkpoint's tick is written.
        position: Option<TextPosition>,
        /// The checkpoint's index in `checkpoints`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The tick of the checkpoint before it.
        previous: u64,
    },
    /// A checkpoint lies beyond the scenario's tick count.
    #[error(
        "{}: checkpoints[{index}] is at tick {tick}, beyond the scenario's {ticks} ticks",
        located(.file, .position)
    )]
    CheckpointAfterEnd {
        /// The path or origin.
        file: String,
        /// Where the checkpoint's tick is written.
        position: Option<TextPosition>,
        /// The checkpoint's index in `checkpoints`.
        index: usize,
        /// Its tick.
        tick: u64,
        /// The scenario's tick count.
        ticks: u64,
    },
    /// A recorded crash must be in the scenario's last tick (a run ends at its crash).
    #[error(
        "{}: the crash is recorded in tick {tick}, but a run of {ticks} ticks can only end with a crash in its last tick",
        located(.file, .position)
    )]
    CrashNotInLastTick {
        /// The path or origin.
        file: String,
        /// Where the crash's tick is written.
        position: Option<TextPosition>,
        /// The crash's tick.
        tick: u64,
        /// The scenario's tick count.
        ticks: u64,
    },
    /// The game refused the scenario's configuration
    /// ([`Game::validate_config`](super::Game::validate_config)): `reason` is the game's error.
    #[error("{}: the game refuses this config: {reason}", located(.file, .position))]
    InvalidConfig {
        /// The path or origin.
        file: String,
        /// Where the `config` is written.
        position: Option<TextPosition>,
        /// The game's reason.
        reason: super::ConfigRefusal,
    },
    /// The scenario could not be turned into RON (a config or input type refused to
    /// serialize).
    #[error("cannot write the scenario as RON: {0}")]
    Serialize(FormatError),
}

/// The highest tick rate a scenario may have: ticks of one nanosecond.
pub const MAX_TICK_RATE: u32 = 1_000_000_000;

/// A place in a text: line and column (in characters), both from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TextPosition {
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
}

impl fmt::Display for TextPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What the RON reader or writer found wrong. Its message says what was expected; the
/// type stays opaque so that the RON library behind it can change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError(ron::Error);

impl FormatError {
    pub(crate) fn new(error: ron::Error) -> Self {
        Self(error)
    }

    /// True when the text nests deeper than the reader allows.
    pub fn is_too_deep(&self) -> bool {
        matches!(self.0, ron::Error::ExceededRecursionLimit)
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ron's own message for this one tells the reader to change ron's options.
        if self.is_too_deep() {
            return write!(
                f,
                "nested more than {} levels deep",
                super::load::NESTING_LIMIT
            );
        }
        self.0.fmt(f)
    }
}

impl std::error::Error for FormatError {}

/// `file:line:column` when the position is known, else `file`.
fn located(file: &str, position: &Option<TextPosition>) -> String {
    match position {
        Some(position) => format!("{file}:{position}"),
        None => file.to_owned(),
    }
}

/// Which value of a scenario an error is about, as a path of fields and list indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValuePath {
    /// A top-level field.
    Field(&'static str),
    /// Where a top-level field's value begins (it may span many lines).
    FieldStart(&'static str),
    /// The `tick` of an element of a top-level list (`inputs`, `checkpoints`).
    ElementTick(&'static str, usize),
    /// The `tick` of the recorded crash.
    CrashTick,
}

/// Matches the variants that carry the position of a value: binds `$slot` to that field in
/// `$body`, or evaluates `$other` for the rest.
macro_rules! with_position_slot {
    ($error:expr, $slot:ident => $body:expr, else $other:expr) => {
        match $error {
            ScenarioError::UnsupportedVersion {
                position: $slot, ..
            }
            | ScenarioError::WrongGame {
                position: $slot, ..
            }
            | ScenarioError::ZeroTickRate {
                position: $slot, ..
            }
            | ScenarioError::TickRateTooHigh {
                position: $slot, ..
            }
            | ScenarioError::InputOutOfOrder {
                position: $slot, ..
            }
            | ScenarioError::InputAfterEnd {
                position: $slot, ..
            }
            | ScenarioError::CheckpointOutOfOrder {
                position: $slot, ..
            }
            | ScenarioError::CheckpointAfterEnd {
                position: $slot, ..
            }
            | ScenarioError::CrashNotInLastTick {
                position: $slot, ..
            }
            | ScenarioError::InvalidConfig {
                position: $slot, ..
            } => $body,
            _ => $other,
        }
    };
}

impl ScenarioError {
    pub(crate) fn malformed(file: &str, text: &str, error: ron::error::SpannedError) -> Self {
        let TextPosition { line, column } = position_in(text, &error);
        ScenarioError::Malformed {
            file: file.to_owned(),
            line,
            column,
            error: FormatError::new(error.code),
        }
    }

    /// The value this error is about, if it is about one value of the scenario.
    pub(crate) fn value_path(&self) -> Option<ValuePath> {
        Some(match self {
            ScenarioError::UnsupportedVersion { .. } => ValuePath::Field("format_version"),
            ScenarioError::WrongGame { .. } => ValuePath::Field("game"),
            ScenarioError::ZeroTickRate { .. } | ScenarioError::TickRateTooHigh { .. } => {
                ValuePath::Field("tick_rate")
            }
            ScenarioError::InputOutOfOrder { index, .. }
            | ScenarioError::InputAfterEnd { index, .. } => {
                ValuePath::ElementTick("inputs", *index)
            }
            ScenarioError::CheckpointOutOfOrder { index, .. }
            | ScenarioError::CheckpointAfterEnd { index, .. } => {
                ValuePath::ElementTick("checkpoints", *index)
            }
            ScenarioError::CrashNotInLastTick { .. } => ValuePath::CrashTick,
            ScenarioError::InvalidConfig { .. } => ValuePath::FieldStart("config"),
            _ => return None,
        })
    }

    /// The position of the value this error is about (`None` when unknown or not about one
    /// value).
    pub fn position(&self) -> Option<TextPosition> {
        match self {
            ScenarioError::NotUtf8 { line, column, .. }
            | ScenarioError::Malformed { line, column, .. } => Some(TextPosition {
                line: *line,
                column: *column,
            }),
            _ => with_position_slot!(self, position => *position, else None),
        }
    }

    /// The error, with the position of its value set to `position`.
    pub(crate) fn at(mut self, position: TextPosition) -> Self {
        with_position_slot!(&mut self, slot => *slot = Some(position), else ());
        self
    }
}

/// Where a RON error in `text` is: the start of its span, moved past the whitespace the
/// span begins with (RON starts some spans before the blanks that precede the offending
/// token, and ends others after it).
pub(crate) fn position_in(text: &str, error: &ron::error::SpannedError) -> TextPosition {
    let (start, end) = (&error.span.start, &error.span.end);
    let mut position = TextPosition {
        line: start.line,
        column: start.col,
    };
    let end = TextPosition {
        line: end.line,
        column: end.col,
    };
    for c in text_from(text, position).chars() {
        if position >= end || !c.is_whitespace() {
            break;
        }
        position = if c == '\n' {
            TextPosition {
                line: position.line + 1,
                column: 1,
            }
        } else {
            TextPosition {
                column: position.column + 1,
                ..position
            }
        };
    }
    position
}

/// The text from `position` on (empty when it lies outside).
fn text_from(text: &str, position: TextPosition) -> &str {
    let line_start = match position.line {
        0 | 1 => Some(0),
        line => text.match_indices('\n').nth(line - 2).map(|(at, _)| at + 1),
    };
    let line = line_start.map_or("", |start| &text[start..]);
    let offset = line
        .char_indices()
        .nth(position.column.saturating_sub(1))
        .map_or(line.len(), |(at, _)| at);
    &line[offset..]
}

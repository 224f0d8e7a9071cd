//! The scenario format (version [`FORMAT_VERSION`]): serde types, reading with checks, and
//! writing as pretty RON. `scenarios/README.md` documents it field by field.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{Game, ScenarioError, StateHash};
use crate::TickError;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Everything needed to reproduce a run. Fields are written in this order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario<C, I> {
    /// The format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The game's [`Game::NAME`].
    pub game: String,
    /// The simulation seed ([`SimSeed`](super::SimSeed)).
    pub seed: u64,
    /// Ticks per simulated second.
    pub tick_rate: u32,
    /// How many ticks the run has (ticks `0..ticks`).
    pub ticks: u64,
    /// The game's configuration.
    pub config: C,
    /// The external inputs, each stamped with the tick that collected it, in tick order
    /// (and arrival order within a tick).
    pub inputs: Vec<TimedInput<I>>,
    /// State hashes, in strictly increasing tick order.
    pub checkpoints: Vec<Checkpoint>,
    /// The panic that ended the run, if one did (it is then in the last tick).
    #[serde(default)]
    pub crash: Option<RecordedCrash>,
}

/// One recorded input: the tick that collected it and the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedInput<I> {
    /// The tick whose collect step delivered the event.
    pub tick: u64,
    /// The event.
    pub event: I,
}

/// The state hash after `tick` ticks (before tick `tick` runs; tick 0 is the built state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Ticks run before the hash was taken.
    pub tick: u64,
    /// The combined hash.
    pub hash: u64,
    /// One hash per registered component or resource type, by name.
    pub components: BTreeMap<String, u64>,
}

impl Checkpoint {
    /// The checkpoint of `state` after `tick` ticks.
    pub fn new(tick: u64, state: StateHash) -> Self {
        Self {
            tick,
            hash: state.total,
            components: state.parts,
        }
    }
}

/// A panic (or failure) of a system that ended a recorded run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedCrash {
    /// The tick it happened in.
    pub tick: u64,
    /// The system's name.
    pub system: String,
    /// The panic message or error.
    pub message: String,
}

impl From<&TickError> for RecordedCrash {
    fn from(error: &TickError) -> Self {
        let message = match error {
            TickError::SystemPanicked { message, .. }
            | TickError::SystemFailed { message, .. }
            | TickError::CommandsPanicked { message, .. } => message.clone(),
            TickError::UndeclaredSpawn { .. } => error.to_string(),
        };
        Self {
            tick: error.tick(),
            system: error.system().to_owned(),
            message,
        }
    }
}

impl RecordedCrash {
    /// True when `error` is this crash: same tick, same system, same message.
    pub fn matches(&self, error: &TickError) -> bool {
        *self == RecordedCrash::from(error)
    }
}

/// The two fields every format version starts with: read before the rest, so a file of
/// another version or game is refused with that reason, not with a shape error.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ScenarioInfo {
    /// The format version.
    pub format_version: u32,
    /// The game's name.
    pub game: String,
}

impl ScenarioInfo {
    /// Reads the version and game of a scenario (any game), refusing unknown versions.
    pub fn parse(text: &str, file: &str) -> Result<Self, ScenarioError> {
        let info: Self = ron::from_str(text).map_err(|e| ScenarioError::malformed(file, e))?;
        if info.format_version != FORMAT_VERSION {
            return Err(ScenarioError::UnsupportedVersion {
                file: file.to_owned(),
                found: info.format_version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(info)
    }

    /// Reads the version and game of a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let (text, file) = read(path.as_ref())?;
        Self::parse(&text, &file)
    }
}

impl<C: DeserializeOwned, I: DeserializeOwned> Scenario<C, I> {
    /// Parses and checks a scenario of the game `G`; `file` names the text in errors.
    pub fn parse<G: Game<Config = C, Input = I>>(
        text: &str,
        file: &str,
    ) -> Result<Self, ScenarioError> {
        let info = ScenarioInfo::parse(text, file)?;
        if info.game != G::NAME {
            return Err(ScenarioError::WrongGame {
                file: file.to_owned(),
                expected: G::NAME.to_owned(),
                found: info.game,
            });
        }
        let scenario: Self = ron::from_str(text).map_err(|e| ScenarioError::malformed(file, e))?;
        scenario.validate(file)?;
        Ok(scenario)
    }

    /// Reads, parses and checks a scenario file of the game `G`.
    pub fn load<G: Game<Config = C, Input = I>>(
        path: impl AsRef<Path>,
    ) -> Result<Self, ScenarioError> {
        let (text, file) = read(path.as_ref())?;
        Self::parse::<G>(&text, &file)
    }
}

impl<C: Serialize, I: Serialize> Scenario<C, I> {
    /// The scenario as pretty RON: fields in declaration order, one input and one
    /// checkpoint per line.
    pub fn to_ron(&self) -> Result<String, ScenarioError> {
        let pretty = ron::ser::PrettyConfig::new()
            .depth_limit(2)
            .indentor("  ")
            .new_line("\n");
        let mut text =
            ron::ser::to_string_pretty(self, pretty).map_err(ScenarioError::Serialize)?;
        text.push('\n');
        Ok(text)
    }

    /// Writes the scenario to `path` as pretty RON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ScenarioError> {
        let path = path.as_ref();
        let text = self.to_ron()?;
        std::fs::write(path, text).map_err(|source| ScenarioError::Write {
            file: path.display().to_string(),
            source,
        })
    }
}

impl<C, I> Scenario<C, I> {
    /// Checks what serde cannot: tick orders and ranges. (Version and game are checked by
    /// [`parse`](Self::parse).)
    pub fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        if self.tick_rate == 0 {
            return Err(ScenarioError::ZeroTickRate {
                file: file.to_owned(),
            });
        }
        self.validate_inputs(file)?;
        self.validate_checkpoints(file)?;
        self.validate_crash(file)
    }

    fn validate_inputs(&self, file: &str) -> Result<(), ScenarioError> {
        let mut previous = 0;
        for (index, input) in self.inputs.iter().enumerate() {
            let tick = input.tick;
            if tick < previous {
                let file = file.to_owned();
                return Err(ScenarioError::InputOutOfOrder {
                    file,
                    index,
                    tick,
                    previous,
                });
            }
            if tick >= self.ticks {
                let (file, ticks) = (file.to_owned(), self.ticks);
                return Err(ScenarioError::InputAfterEnd {
                    file,
                    index,
                    tick,
                    ticks,
                });
            }
            previous = tick;
        }
        Ok(())
    }

    fn validate_checkpoints(&self, file: &str) -> Result<(), ScenarioError> {
        let mut previous: Option<u64> = None;
        for (index, checkpoint) in self.checkpoints.iter().enumerate() {
            let tick = checkpoint.tick;
            if let Some(previous) = previous.filter(|&previous| tick <= previous) {
                let file = file.to_owned();
                return Err(ScenarioError::CheckpointOutOfOrder {
                    file,
                    index,
                    tick,
                    previous,
                });
            }
            if tick > self.ticks {
                let (file, ticks) = (file.to_owned(), self.ticks);
                return Err(ScenarioError::CheckpointAfterEnd {
                    file,
                    index,
                    tick,
                    ticks,
                });
            }
            previous = Some(tick);
        }
        Ok(())
    }

    fn validate_crash(&self, file: &str) -> Result<(), ScenarioError> {
        match &self.crash {
            Some(crash) if crash.tick.checked_add(1) != Some(self.ticks) => {
                Err(ScenarioError::CrashNotInLastTick {
                    file: file.to_owned(),
                    tick: crash.tick,
                    ticks: self.ticks,
                })
            }
            _ => Ok(()),
        }
    }
}

fn read(path: &Path) -> Result<(String, String), ScenarioError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, file)),
        Err(source) => Err(ScenarioError::Read { file, source }),
    }
}

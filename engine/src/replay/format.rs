//! The scenario format (version [`FORMAT_VERSION`]): serde types, the checks serde cannot
//! make, and writing as pretty RON (reading, and the migration of version-1 files, is in
//! `load.rs`). `scenarios/README.md` documents it field by field.
//!
//! Version 2 adds, all optional: the app's [`Composition`] (so a replay can name a changed
//! app as the likely cause of a divergence), the tick a branch [`BranchPoint`] starts at,
//! and per-value checkpoints ([`Checkpoint::values`], for a divergence report down to the
//! entity and value). A version-1 file is a version-2 file without them, whose entities were
//! numbered and hashed the version-1 way ([`EntityScheme::Version1`], set by the migration).

use std::{
    collections::{BTreeMap, btree_map::Entry},
    fmt,
};

use serde::{
    Deserialize, Deserializer, Serialize,
    de::{self, MapAccess, Visitor},
};

use super::{
    ScenarioError, StateHash,
    error::{FormatError, MAX_TICK_RATE},
};
use crate::TickError;

/// The format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format version this build reads (migrated to [`FORMAT_VERSION`] on load).
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// Everything needed to reproduce a run. Fields are written in this order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario<C, I> {
    /// The format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The game's [`Game::NAME`](super::Game::NAME).
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
    /// What the recording app was made of (version 2; `None` in migrated version-1 files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composition: Option<Composition>,
    /// Where this scenario branched off another one (version 2; `None` for a straight run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branched_from: Option<BranchPoint>,
    /// How the recording build numbered and hashed entities: [`EntityScheme::Current`]
    /// (not written) or, in migrated version-1 files, [`EntityScheme::Version1`].
    #[serde(default, skip_serializing_if = "EntityScheme::is_current")]
    pub entity_scheme: EntityScheme,
}

/// How a recording build numbered entities and hashed entity ids. A replay numbers and
/// hashes them the same way, or the ids held in the state (and the order of component
/// hashes, once ids are reused) differ from the recording's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EntityScheme {
    /// This build's: one entity id is spawned and freed before the game is built (so every
    /// id handed out is one higher than a version-1 build's, and snapshots of any tick can be
    /// restored), an `Entity` hashes as its index, components hash in index order.
    #[default]
    Current,
    /// The version-1 builds': no id is spawned and freed first, an `Entity` hashes as its
    /// index and generation (`Entity::to_bits`), components hash in `Entity` order. A
    /// replay follows it; time travel does not (see
    /// [`ReplayError::Version1NotRewindable`](super::ReplayError::Version1NotRewindable)).
    Version1,
}

impl EntityScheme {
    /// True for [`EntityScheme::Current`].
    pub fn is_current(&self) -> bool {
        *self == EntityScheme::Current
    }
}

/// What an app was made of when it recorded a scenario: its systems, the state it registered
/// and the resources in its world. Query order can depend on all of them (bevy adds matched
/// archetypes in hash-map order, and resources are entities), so a replay that diverges
/// compares them with its own app and names what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Composition {
    /// The systems, in registration order.
    pub systems: Vec<String>,
    /// The registered state (`"component Body"`, `"resource Score"`, `"event NewGame"`).
    pub state: Vec<String>,
    /// The resource types in the world after the game was built, sorted.
    pub resources: Vec<String>,
}

impl Composition {
    /// What differs from `other` (the replaying app), one line per item: `+ x` is only in
    /// `other`, `- x` only in `self`. Empty when they are made of the same parts.
    pub fn changes_to(&self, other: &Composition) -> Vec<String> {
        let mut changes = Vec::new();
        for (what, mine, theirs) in [
            ("system", &self.systems, &other.systems),
            ("state", &self.state, &other.state),
            ("resource", &self.resources, &other.resources),
        ] {
            changes.extend(
                mine.iter()
                    .filter(|x| !theirs.contains(x))
                    .map(|x| format!("- {what} {x}")),
            );
            changes.extend(
                theirs
                    .iter()
                    .filter(|x| !mine.contains(x))
                    .map(|x| format!("+ {what} {x}")),
            );
        }
        if changes.is_empty() && self.systems != other.systems {
            changes.push("systems registered in another order".to_owned());
        }
        changes
    }
}

/// The tick a branch scenario left its parent at: the ticks before it are the parent's (its
/// inputs, so a replay of the branch passes through the same state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchPoint {
    /// The first tick of the branch (ticks `0..tick` are the parent's).
    pub tick: u64,
    /// The state hash at that tick, in the parent and in the branch.
    pub hash: u64,
}

/// One value of a registered type at a checkpoint, for reports down to the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedValue {
    /// The entity's index (components), `None` for resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<u32>,
    /// The value's `Debug` text.
    pub value: String,
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
    /// One hash per registered component or resource type, by name (a name given twice
    /// is refused when reading).
    #[serde(deserialize_with = "unique_keys")]
    pub components: BTreeMap<String, u64>,
    /// Every value of every hashed type (version 2, recorded with
    /// [`RecorderBuilder::checkpoint_values`](super::RecorderBuilder::checkpoint_values)):
    /// lets a diverging replay name the entity and the values that differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, Vec<RecordedValue>>>,
}

impl Checkpoint {
    /// The checkpoint of `state` after `tick` ticks.
    pub fn new(tick: u64, state: StateHash) -> Self {
        Self {
            tick,
            hash: state.total,
            components: state.parts,
            values: None,
        }
    }
}

/// Reads a map of names to hashes, refusing a name given twice (a plain map would keep the
/// last value silently).
fn unique_keys<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, u64>, D::Error> {
    struct UniqueKeys;

    impl<'de> Visitor<'de> for UniqueKeys {
        type Value = BTreeMap<String, u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of component names to hashes")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut hashes = BTreeMap::new();
            while let Some((name, hash)) = map.next_entry::<String, u64>()? {
                match hashes.entry(name) {
                    Entry::Vacant(entry) => {
                        entry.insert(hash);
                    }
                    Entry::Occupied(entry) => {
                        let message = format_args!("the key {:?} is given twice", entry.key());
                        return Err(de::Error::custom(message));
                    }
                }
            }
            Ok(hashes)
        }
    }

    deserializer.deserialize_map(UniqueKeys)
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
            TickError::UndeclaredSpawn { .. } | TickError::UnattributedSpawn { .. } => {
                error.to_string()
            }
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

impl<C: Serialize, I: Serialize> Scenario<C, I> {
    /// The scenario as pretty RON: fields in declaration order, one input and one
    /// checkpoint per line.
    pub fn to_ron(&self) -> Result<String, ScenarioError> {
        let pretty = ron::ser::PrettyConfig::new()
            .depth_limit(2)
            .indentor("  ")
            .new_line("\n");
        let mut text = ron::ser::to_string_pretty(self, pretty)
            .map_err(|error| ScenarioError::Serialize(FormatError::new(error)))?;
        text.push('\n');
        Ok(text)
    }
}

impl<C, I> Scenario<C, I> {
    /// How the recording build numbered and hashed entities: [`entity_scheme`](Self::entity_scheme),
    /// or [`EntityScheme::Version1`] for a version-1 scenario that was not migrated (one built
    /// in code, or read with serde directly rather than [`Scenario::load`]).
    pub fn recorded_entity_scheme(&self) -> EntityScheme {
        if self.format_version < 2 {
            EntityScheme::Version1
        } else {
            self.entity_scheme
        }
    }

    /// Brings a scenario read in an older format version up to [`FORMAT_VERSION`]. Version
    /// 1 lacks only optional fields; its entities were numbered and hashed otherwise, which
    /// the migration records ([`EntityScheme::Version1`]), so that a replay (and the file
    /// written back as version 2) numbers and hashes them as the recording build did.
    ///
    /// The replay of a migrated file then verifies its recorded checkpoints as before,
    /// provided the game runs as it did: draws from [`SimRng`](super::SimRng) and timer
    /// handles changed in version 2, so games using them diverge.
    pub fn migrate(&mut self) {
        if self.format_version < FORMAT_VERSION {
            if self.format_version < 2 {
                self.entity_scheme = EntityScheme::Version1;
            }
            self.format_version = FORMAT_VERSION;
        }
    }

    /// The first `tick` ticks of this scenario (inputs before it, checkpoints up to it, no
    /// crash after it): the part a branch from `tick` shares.
    pub fn truncate(&mut self, tick: u64) {
        if tick >= self.ticks {
            return;
        }
        self.ticks = tick;
        self.inputs.retain(|input| input.tick < tick);
        self.checkpoints
            .retain(|checkpoint| checkpoint.tick <= tick);
        self.crash = None;
    }

    /// Checks that this is a scenario the game named `game` can run: a format version this
    /// build reads, that game, and valid tick orders and ranges ([`validate`](Self::validate)).
    pub fn check(&self, game: &str, file: &str) -> Result<(), ScenarioError> {
        check_version(self.format_version, file)?;
        check_game(&self.game, game, file)?;
        self.validate(file)
    }

    /// Checks what serde cannot: the tick rate, tick orders and ranges. (Version and game
    /// are checked by [`check`](Self::check) and while parsing.)
    pub fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        self.validate_tick_rate(file)?;
        self.validate_inputs(file)?;
        self.validate_checkpoints(file)?;
        self.validate_crash(file)
    }

    fn validate_tick_rate(&self, file: &str) -> Result<(), ScenarioError> {
        let (file, position) = (file.to_owned(), None);
        match self.tick_rate {
            0 => Err(ScenarioError::ZeroTickRate { file, position }),
            tick_rate if tick_rate > MAX_TICK_RATE => Err(ScenarioError::TickRateTooHigh {
                file,
                position,
                tick_rate,
            }),
            _ => Ok(()),
        }
    }

    fn validate_inputs(&self, file: &str) -> Result<(), ScenarioError> {
        let (file, position, ticks) = (file.to_owned(), None, self.ticks);
        let mut previous = 0;
        for (index, input) in self.inputs.iter().enumerate() {
            let tick = input.tick;
            if tick < previous {
                return Err(ScenarioError::InputOutOfOrder {
                    file,
                    position,
                    index,
                    tick,
                    previous,
                });
            }
            if tick >= ticks {
                return Err(ScenarioError::InputAfterEnd {
                    file,
                    position,
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
        let (file, position, ticks) = (file.to_owned(), None, self.ticks);
        let mut previous: Option<u64> = None;
        for (index, checkpoint) in self.checkpoints.iter().enumerate() {
            let tick = checkpoint.tick;
            if let Some(previous) = previous.filter(|&previous| tick <= previous) {
                return Err(ScenarioError::CheckpointOutOfOrder {
                    file,
                    position,
                    index,
                    tick,
                    previous,
                });
            }
            if tick > ticks {
                return Err(ScenarioError::CheckpointAfterEnd {
                    file,
                    position,
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
                    position: None,
                    tick: crash.tick,
                    ticks: self.ticks,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Refuses a format version outside [`OLDEST_FORMAT_VERSION`]..=[`FORMAT_VERSION`].
pub(crate) fn check_version(found: u32, file: &str) -> Result<(), ScenarioError> {
    if (OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&found) {
        return Ok(());
    }
    Err(ScenarioError::UnsupportedVersion {
        file: file.to_owned(),
        position: None,
        found,
        supported: FORMAT_VERSION,
    })
}

/// Refuses a scenario of another game than `expected`.
pub(crate) fn check_game(found: &str, expected: &str, file: &str) -> Result<(), ScenarioError> {
    if found == expected {
        return Ok(());
    }
    Err(ScenarioError::WrongGame {
        file: file.to_owned(),
        position: None,
        expected: expected.to_owned(),
        found: found.to_owned(),
    })
}

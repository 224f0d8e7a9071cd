//! Reading scenarios: a size-capped read that never blocks on a pipe or a device, UTF-8 (a
//! byte-order mark is skipped), one RON parse that refuses an unknown (future) format
//! version or another game as soon as it reads them, then the checks serde cannot make, each
//! error placed at the line and column of its value, then the migration of older versions.

use std::{
    cell::Cell,
    fmt,
    fs::{File, OpenOptions},
    io::{self, Read},
    marker::PhantomData,
    path::Path,
};

use serde::{
    Deserialize, Deserializer,
    de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor},
};

use super::{
    Game, GameScenario, Scenario, ScenarioError,
    error::TextPosition,
    format::{check_game, check_version},
    game::check_config,
    locate::locate,
};

/// The default size limit of a scenario file: 256 MiB (about five million recorded inputs).
pub const DEFAULT_MAX_SCENARIO_BYTES: u64 = 256 * 1024 * 1024;

/// How deep values may nest in a scenario (RON's own default). Deeper text is refused
/// before it can exhaust the stack.
pub(crate) const NESTING_LIMIT: usize = 128;

/// The UTF-8 byte-order mark some editors put at the start of a file.
const BOM: char = '\u{FEFF}';

/// How scenario files are read: for now, the size limit.
///
/// A file larger than the limit is refused with [`ScenarioError::TooLarge`] before (or
/// while) it is read, so memory stays bounded whatever the file says; a path that is not a
/// regular file (a directory, a pipe, `/dev/zero`) is refused without reading it.
///
/// ```
/// use tickbus::replay::{LoadOptions, ScenarioError};
/// # use tickbus::prelude::*;
/// # use tickbus::replay::*;
/// # struct Counter;
/// # impl Game for Counter {
/// #     const NAME: &'static str = "counter";
/// #     type Config = ();
/// #     type Input = u64;
/// #     fn build(_: &(), _: &mut App) {}
/// #     fn register_state(_: &mut StateHasher) {}
/// # }
/// let text = "(format_version: 1, game: \"counter\", seed: 0, tick_rate: 60, ticks: 0, \
///             config: (), inputs: [], checkpoints: [])";
/// let scenario = LoadOptions::new().read::<Counter>(text.as_bytes(), "inline")?;
/// assert_eq!(scenario.ticks, 0);
///
/// let error = LoadOptions::new().max_bytes(16).read::<Counter>(text.as_bytes(), "inline");
/// assert!(matches!(error, Err(ScenarioError::TooLarge { limit: 16, .. })));
/// # Ok::<(), ScenarioError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    max_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadOptions {
    /// The defaults: a limit of [`DEFAULT_MAX_SCENARIO_BYTES`].
    pub fn new() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_SCENARIO_BYTES,
        }
    }

    /// Refuses files larger than `bytes` bytes.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The size limit in bytes.
    pub fn byte_limit(&self) -> u64 {
        self.max_bytes
    }

    /// Reads, parses and checks a scenario file of the game `G`.
    pub fn load<G: Game>(&self, path: impl AsRef<Path>) -> Result<GameScenario<G>, ScenarioError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bytes = self.read_file(path, &file)?;
        parse_scenario::<G>(decode(&bytes, &file)?, &file)
    }

    /// Reads (at most the limit), parses and checks a scenario of the game `G` from any
    /// reader; `origin` names it in errors.
    pub fn read<G: Game>(
        &self,
        reader: impl Read,
        origin: &str,
    ) -> Result<GameScenario<G>, ScenarioError> {
        let bytes = read_capped(reader, self.max_bytes, Vec::new(), origin)?;
        parse_scenario::<G>(decode(&bytes, origin)?, origin)
    }

    /// Parses and checks a scenario of the game `G` from text already in memory, refusing
    /// text longer than the limit with [`ScenarioError::TooLarge`] before parsing it (parsing
    /// can take several times the text's length, see [`Scenario::parse`]).
    pub fn parse<G: Game>(&self, text: &str, file: &str) -> Result<GameScenario<G>, ScenarioError> {
        self.check_length(text, file)?;
        parse_scenario::<G>(text, file)
    }

    /// Reads the version and game of a scenario of any game from text already in memory,
    /// refusing text longer than the limit (see [`LoadOptions::parse`]).
    pub fn parse_info(&self, text: &str, file: &str) -> Result<ScenarioInfo, ScenarioError> {
        self.check_length(text, file)?;
        ScenarioInfo::parse(text, file)
    }

    fn check_length(&self, text: &str, file: &str) -> Result<(), ScenarioError> {
        match u64::try_from(text.len()) {
            Ok(length) if length <= self.max_bytes => Ok(()),
            _ => Err(too_large(file, self.max_bytes)),
        }
    }

    /// Reads the version and game of a scenario file of any game.
    pub fn load_info(&self, path: impl AsRef<Path>) -> Result<ScenarioInfo, ScenarioError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bytes = self.read_file(path, &file)?;
        ScenarioInfo::parse(decode(&bytes, &file)?, &file)
    }

    fn read_file(&self, path: &Path, file: &str) -> Result<Vec<u8>, ScenarioError> {
        let read_error = |source| ScenarioError::Read {
            file: file.to_owned(),
            source,
        };
        let handle = open_without_blocking(path).map_err(read_error)?;
        let metadata = handle.metadata().map_err(read_error)?;
        if !metadata.is_file() {
            let file = file.to_owned();
            return Err(ScenarioError::NotAFile { file });
        }
        if metadata.len() > self.max_bytes {
            return Err(too_large(file, self.max_bytes));
        }
        // The length is within the limit, so this allocation is bounded too.
        let buffer = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        read_capped(handle, self.max_bytes, buffer, file)
    }
}

/// Opens `path` for reading; on Unix without waiting for a writer when it is a pipe.
fn open_without_blocking(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// Reads all of `reader` into `buffer`, refusing more than `limit` bytes.
fn read_capped(
    reader: impl Read,
    limit: u64,
    mut buffer: Vec<u8>,
    file: &str,
) -> Result<Vec<u8>, ScenarioError> {
    let read = reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buffer)
        .map_err(|source| ScenarioError::Read {
            file: file.to_owned(),
            source,
        })?;
    if read as u64 > limit {
        return Err(too_large(file, limit));
    }
    Ok(buffer)
}

fn too_large(file: &str, limit: u64) -> ScenarioError {
    ScenarioError::TooLarge {
        file: file.to_owned(),
        limit,
    }
}

/// The bytes as text, or the position of the first byte that is not UTF-8.
fn decode<'a>(bytes: &'a [u8], file: &str) -> Result<&'a str, ScenarioError> {
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default();
        let TextPosition { line, column } = end_of(valid);
        ScenarioError::NotUtf8 {
            file: file.to_owned(),
            line,
            column,
        }
    })
}

/// The position just after `text`.
fn end_of(text: &str) -> TextPosition {
    let last_line = text.rsplit('\n').next().unwrap_or_default();
    TextPosition {
        line: 1 + text.matches('\n').count(),
        column: 1 + last_line.chars().count(),
    }
}

fn without_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

fn ron_options() -> ron::Options {
    ron::Options::default().with_recursion_limit(NESTING_LIMIT)
}

/// Parses and checks a scenario of `G` in one pass over the text (a second pass only to
/// place a semantic error).
pub(crate) fn parse_scenario<G: Game>(
    text: &str,
    file: &str,
) -> Result<GameScenario<G>, ScenarioError> {
    let text = without_bom(text);
    let refusal = Refusal::new(file, Some(G::NAME));
    let seed = ScenarioSeed::<G::Config, G::Input> {
        refusal: &refusal,
        types: PhantomData,
    };
    let mut scenario: GameScenario<G> = ron_options()
        .from_str_seed(text, seed)
        .map_err(|error| refusal.error_of(error, text))?;
    scenario
        .validate(file)
        .and_then(|()| check_config::<G>(&scenario.config, file))
        .map_err(|error| placed(error, text))?;
    scenario.migrate();
    Ok(scenario)
}

/// `error` with the position of its value in `text`, when it is about one value.
fn placed(error: ScenarioError, text: &str) -> ScenarioError {
    match error.value_path().and_then(|path| locate(text, path)) {
        Some(position) => error.at(position),
        None => error,
    }
}

impl<C: DeserializeOwned, I: DeserializeOwned> Scenario<C, I> {
    /// Parses and checks a scenario of the game `G`; `file` names the text in errors. A
    /// leading byte-order mark is skipped.
    ///
    /// No size limit applies: the text is already in memory. Parsing it can take several
    /// times its length (up to about ten times for a checkpoint of many tiny component
    /// entries; see RELIABILITY.md), so text from an untrusted source is better parsed with
    /// [`LoadOptions::parse`], which refuses text over its limit first.
    pub fn parse<G: Game<Config = C, Input = I>>(
        text: &str,
        file: &str,
    ) -> Result<Self, ScenarioError> {
        parse_scenario::<G>(text, file)
    }

    /// Reads, parses and checks a scenario file of the game `G`, with the default
    /// [`LoadOptions`].
    pub fn load<G: Game<Config = C, Input = I>>(
        path: impl AsRef<Path>,
    ) -> Result<Self, ScenarioError> {
        LoadOptions::new().load::<G>(path)
    }
}

/// The two fields every format version starts with, read from a scenario of any game (to
/// choose the game that replays it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioInfo {
    /// The format version.
    pub format_version: u32,
    /// The game's name.
    pub game: String,
}

impl ScenarioInfo {
    /// Reads the version and game of a scenario (any game), refusing unknown versions. No
    /// size limit applies (see [`Scenario::parse`]; [`LoadOptions::parse_info`] has one).
    pub fn parse(text: &str, file: &str) -> Result<Self, ScenarioError> {
        let refusal = Refusal::new(file, None);
        let seed = InfoSeed { refusal: &refusal };
        let text = without_bom(text);
        ron_options()
            .from_str_seed(text, seed)
            .map_err(|error| refusal.error_of(error, text))
    }

    /// Reads the version and game of a scenario file, with the default [`LoadOptions`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        LoadOptions::new().load_info(path)
    }
}

/// Refuses another format version or game the moment it is read, so that a file of
/// another version or game is reported as such and not as a shape error further on.
struct Refusal<'a> {
    file: &'a str,
    game: Option<&'a str>,
    error: Cell<Option<ScenarioError>>,
}

impl<'a> Refusal<'a> {
    fn new(file: &'a str, game: Option<&'a str>) -> Self {
        Self {
            file,
            game,
            error: Cell::new(None),
        }
    }

    /// Reads the format version and refuses it unless it is this build's.
    fn version<'de, A: MapAccess<'de>>(
        &self,
        slot: &mut Option<u32>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let found = *read_once(slot, "format_version", map)?;
        self.check(check_version(found, self.file))
    }

    /// Reads the game's name and refuses another game than the expected one.
    fn game<'de, A: MapAccess<'de>>(
        &self,
        slot: &mut Option<String>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let found = read_once(slot, "game", map)?;
        match self.game {
            Some(expected) => self.check(check_game(found, expected, self.file)),
            None => Ok(()),
        }
    }

    /// Stops the parse at a refusal (keeping the typed error for [`error_of`](Self::error_of)).
    fn check<E: de::Error>(&self, checked: Result<(), ScenarioError>) -> Result<(), E> {
        checked.map_err(|refused| {
            self.error.set(Some(refused));
            E::custom("refused")
        })
    }

    /// The error of a failed parse of `text`: the refusal, placed at its value, or the
    /// RON error.
    fn error_of(&self, error: ron::error::SpannedError, text: &str) -> ScenarioError {
        match self.error.take() {
            Some(refused) => placed(refused, text),
            None => ScenarioError::malformed(self.file, text, error),
        }
    }
}

/// Reads the value of `field` into `slot`, refusing a field given twice.
fn read_once<'de, 's, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &'s mut Option<T>,
    field: &'static str,
    map: &mut A,
) -> Result<&'s T, A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(field));
    }
    Ok(slot.insert(map.next_value()?))
}

fn required<T, E: de::Error>(slot: Option<T>, field: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(field))
}

const FIELDS: &[&str] = &[
    "format_version",
    "game",
    "seed",
    "tick_rate",
    "ticks",
    "config",
    "inputs",
    "checkpoints",
    "crash",
    "composition",
    "branched_from",
    "entity_scheme",
];

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    FormatVersion,
    Game,
    Seed,
    TickRate,
    Ticks,
    Config,
    Inputs,
    Checkpoints,
    Crash,
    Composition,
    BranchedFrom,
    EntityScheme,
}

/// Deserializes a whole [`Scenario`], refusing another version or game on sight.
struct ScenarioSeed<'r, C, I> {
    refusal: &'r Refusal<'r>,
    types: PhantomData<(C, I)>,
}

impl<'de, C: DeserializeOwned, I: DeserializeOwned> DeserializeSeed<'de>
    for ScenarioSeed<'_, C, I>
{
    type Value = Scenario<C, I>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct("Scenario", FIELDS, self)
    }
}

impl<'de, C: DeserializeOwned, I: DeserializeOwned> Visitor<'de> for ScenarioSeed<'_, C, I> {
    type Value = Scenario<C, I>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scenario")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut format_version, mut game, mut seed, mut tick_rate) = (None, None, None, None);
        let (mut ticks, mut config, mut inputs, mut checkpoints) = (None, None, None, None);
        let (mut crash, mut composition, mut branched_from) = (None, None, None);
        let mut entity_scheme = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::FormatVersion => self.refusal.version(&mut format_version, &mut map)?,
                Field::Game => self.refusal.game(&mut game, &mut map)?,
                Field::Seed => {
                    read_once(&mut seed, "seed", &mut map)?;
                }
                Field::TickRate => {
                    read_once(&mut tick_rate, "tick_rate", &mut map)?;
                }
                Field::Ticks => {
                    read_once(&mut ticks, "ticks", &mut map)?;
                }
                Field::Config => {
                    read_once(&mut config, "config", &mut map)?;
                }
                Field::Inputs => {
                    read_once(&mut inputs, "inputs", &mut map)?;
                }
                Field::Checkpoints => {
                    read_once(&mut checkpoints, "checkpoints", &mut map)?;
                }
                Field::Crash => {
                    read_once(&mut crash, "crash", &mut map)?;
                }
                Field::Composition => {
                    read_once(&mut composition, "composition", &mut map)?;
                }
                Field::BranchedFrom => {
                    read_once(&mut branched_from, "branched_from", &mut map)?;
                }
                Field::EntityScheme => {
                    read_once(&mut entity_scheme, "entity_scheme", &mut map)?;
                }
            }
        }
        Ok(Scenario {
            format_version: required(format_version, "format_version")?,
            game: required(game, "game")?,
            seed: required(seed, "seed")?,
            tick_rate: required(tick_rate, "tick_rate")?,
            ticks: required(ticks, "ticks")?,
            config: required(config, "config")?,
            inputs: required(inputs, "inputs")?,
            checkpoints: required(checkpoints, "checkpoints")?,
            crash: crash.flatten(),
            composition: composition.flatten(),
            branched_from: branched_from.flatten(),
            entity_scheme: entity_scheme.unwrap_or_default(),
        })
    }
}

/// Deserializes the version and game of a scenario of any game, skipping the rest.
struct InfoSeed<'r> {
    refusal: &'r Refusal<'r>,
}

impl<'de> DeserializeSeed<'de> for InfoSeed<'_> {
    type Value = ScenarioInfo;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct("Scenario", FIELDS, self)
    }
}

impl<'de> Visitor<'de> for InfoSeed<'_> {
    type Value = ScenarioInfo;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scenario")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut format_version, mut game) = (None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::FormatVersion => self.refusal.version(&mut format_version, &mut map)?,
                Field::Game => self.refusal.game(&mut game, &mut map)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ScenarioInfo {
            format_version: required(format_version, "format_version")?,
            game: required(game, "game")?,
        })
    }
}

//! Malformed scenarios: every file of the corpus (`tests/corpus/scenarios/`) gives the
//! outcome its first line announces, and random bytes and random mutations of the shipped
//! and corpus files never panic, always name the file, and place errors inside the text.
//!
//! The corpus line is `// expect: ok`, `// expect: Kind`, `// expect: Kind at line L` or
//! `// expect: Kind at L:C`, where `Kind` is the `ScenarioError` variant. The same files seed
//! the fuzz target in `fuzz/` (see `fuzz/README.md`); `tests/corpus/fuzz-found/` keeps inputs
//! it found (add any crash it finds there, once fixed).

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use proptest::prelude::*;
use tickbus::replay::{GameScenario, LoadOptions, Scenario, ScenarioError, ScenarioInfo};
use tickbus_tests::{particles::Particles, scenario_support::scenarios_dir};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/scenarios")
}

/// Inputs the fuzz target found interesting (new coverage), kept as regression seeds: no
/// announced outcome, only the checks every input gets.
fn fuzz_found_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/fuzz-found")
}

/// The `.ron` files of `dir`, sorted.
fn ron_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ron"))
        .collect();
    files.sort();
    files
}

/// What a corpus file's first line announces.
#[derive(Debug, PartialEq)]
struct Expected {
    kind: String,
    line: Option<usize>,
    column: Option<usize>,
}

fn expected(path: &Path) -> Expected {
    let bytes = std::fs::read(path).expect("readable");
    let first = String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap_or(&[]))
        .trim_start_matches('\u{feff}')
        .to_owned();
    let announced = first
        .strip_prefix("// expect: ")
        .unwrap_or_else(|| panic!("{}: no `// expect:` first line", path.display()));
    let (kind, at) = announced.split_once(" at ").unwrap_or((announced, ""));
    let (line, column) = match at.strip_prefix("line ") {
        Some(line) => (line.parse().ok(), None),
        None => match at.split_once(':') {
            Some((line, column)) => (line.parse().ok(), column.parse().ok()),
            None => (None, None),
        },
    };
    Expected {
        kind: kind.to_owned(),
        line,
        column,
    }
}

/// The variant name of an error (`Malformed`, `InputAfterEnd`, …).
fn kind_of(error: &ScenarioError) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn check_corpus_file(path: &Path) {
    let expected = expected(path);
    let name = path.display().to_string();
    let result = Scenario::load::<Particles>(path);
    // The header reader skips every field it does not need: it must not panic either.
    let _ = ScenarioInfo::load(path);
    match (expected.kind.as_str(), result) {
        ("ok", Ok(_)) => {}
        ("ok", Err(error)) => panic!("{name}: expected to load, got {error}"),
        (_, Ok(_)) => panic!("{name}: expected {expected:?}, but it loaded"),
        (kind, Err(error)) => {
            assert_eq!(kind_of(&error), kind, "{name}: {error}");
            assert!(error.to_string().starts_with(&name), "{error}");
            let position = error.position();
            if let Some(line) = expected.line {
                assert_eq!(position.map(|p| p.line), Some(line), "{error}");
            }
            if let Some(column) = expected.column {
                assert_eq!(position.map(|p| p.column), Some(column), "{error}");
            }
        }
    }
}

#[test]
fn every_corpus_file_gives_the_announced_outcome() {
    let files = ron_files(&corpus_dir());
    assert!(
        files.len() >= 20,
        "the corpus is in {}",
        corpus_dir().display()
    );
    for path in files {
        check_corpus_file(&path);
    }
}

#[test]
fn every_input_the_fuzzer_found_loads_or_fails_cleanly() {
    let files = ron_files(&fuzz_found_dir());
    assert!(!files.is_empty(), "{}", fuzz_found_dir().display());
    for path in files {
        let bytes = std::fs::read(&path).expect("readable");
        if let Err(failure) = check_load(&bytes) {
            panic!("{}: {failure}", path.display());
        }
    }
}

/// The shipped scenarios and the corpus: the material the mutations start from.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut files = ron_files(&scenarios_dir());
        files.extend(ron_files(&corpus_dir()));
        files.extend(ron_files(&fuzz_found_dir()));
        files
            .iter()
            .map(|path| std::fs::read(path).expect("readable"))
            .collect()
    })
}

/// Tokens worth splicing in: extreme numbers, brackets, string and comment starts, marks.
const TOKENS: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "4294967295",
    "-1",
    "0",
    "1e999",
    "-0.0",
    "inf",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "'",
    "//",
    "/*",
    "*/",
    "r#\"",
    "\\u{FFFF}",
    "Some(",
    "None",
    "\u{feff}",
    "\n",
    "tick: ",
    "#![enable(implicit_some)]",
    "b\"",
    "0x",
    "_",
];

/// One edit of a byte string; positions and lengths are fractions of its length.
#[derive(Clone, Debug)]
enum Mutation {
    SetByte { at: f64, byte: u8 },
    Insert { at: f64, token: usize },
    Delete { at: f64, len: u16 },
    Duplicate { from: f64, len: u16, to: f64 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64, any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        (0.0..1.0f64, 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (0.0..1.0f64, 1..200u16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (0.0..1.0f64, 1..400u16, 0.0..1.0f64).prop_map(|(from, len, to)| Mutation::Duplicate {
            from,
            len,
            to
        }),
    ]
}

fn index(bytes: &[u8], fraction: f64) -> usize {
    ((bytes.len() as f64 * fraction) as usize).min(bytes.len())
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    match *mutation {
        Mutation::SetByte { at, byte } => {
            let at = index(bytes, at);
            if let Some(slot) = bytes.get_mut(at) {
                *slot = byte;
            }
        }
        Mutation::Insert { at, token } => {
            let at = index(bytes, at);
            bytes.splice(at..at, TOKENS[token].bytes());
        }
        Mutation::Delete { at, len } => {
            let at = index(bytes, at);
            let end = (at + usize::from(len)).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Duplicate { from, len, to } => {
            let from = index(bytes, from);
            let end = (from + usize::from(len)).min(bytes.len());
            let copy = bytes[from..end].to_vec();
            let to = index(bytes, to);
            bytes.splice(to..to, copy);
        }
    }
}

const ORIGIN: &str = "mutated.ron";

/// Loads `bytes` as a reader would and checks the outcome: an error names the origin and
/// lies inside the text; a scenario that loads writes back to text that loads the same.
fn check_load(bytes: &[u8]) -> Result<(), TestCaseError> {
    let loaded = LoadOptions::new().read::<Particles>(bytes, ORIGIN);
    let _ = ScenarioInfo::parse(&String::from_utf8_lossy(bytes), ORIGIN);
    match loaded {
        Err(error) => {
            prop_assert!(error.to_string().starts_with(ORIGIN), "{error}");
            if let Some(position) = error.position() {
                let lines = bytes.split(|&b| b == b'\n').count();
                prop_assert!(position.line >= 1 && position.line <= lines, "{error}");
                prop_assert!(position.column >= 1, "{error}");
            }
        }
        Ok(scenario) => {
            let text = scenario.to_ron().expect("a loaded scenario writes");
            let again: GameScenario<Particles> =
                Scenario::parse::<Particles>(&text, ORIGIN).expect("what was written loads");
            prop_assert_eq!(again.to_ron().expect("writes"), text);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic_and_errors_are_placed(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut bytes = seed.get(seeds()).clone();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        check_load(&bytes)?;
    }

    #[test]
    fn random_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        opened in any::<bool>(),
    ) {
        // Half of them start like a scenario, so the parser gets past the first byte.
        let mut text = if opened { b"(format_version: 1, game: \"particles\", ".to_vec() } else { Vec::new() };
        text.extend(bytes);
        check_load(&text)?;
    }
}

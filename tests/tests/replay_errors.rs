//! Every kind of bad scenario yields its own error, never a panic.

use proptest::prelude::*;
use tickbus::replay::{
    FORMAT_VERSION, GameScenario, ReplayError, Replayer, Scenario, ScenarioError, ScenarioInfo,
};
use tickbus_tests::{particles::Particles, scenario_support::short_particle_run};

const FILE: &str = "small.ron";

fn small_scenario() -> GameScenario<Particles> {
    let scenario = short_particle_run(1, 24, 6, 2);
    assert!(
        scenario.inputs.len() >= 3,
        "the tests below need a few inputs"
    );
    scenario
}

fn small_text() -> String {
    small_scenario().to_ron().expect("serializable")
}

fn parse(text: &str) -> Result<GameScenario<Particles>, ScenarioError> {
    Scenario::parse::<Particles>(text, FILE)
}

/// `text` with the first occurrence of `from` replaced by `to` (which must exist).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is not in the scenario");
    text.replacen(from, to, 1)
}

/// The 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .expect("present")
        + 1
}

#[test]
fn the_small_scenario_itself_is_fine() {
    let scenario = small_scenario();
    assert_eq!(parse(&scenario.to_ron().unwrap()).unwrap(), scenario);
}

#[test]
fn bad_syntax_names_file_line_and_column() {
    let text = edit(&small_text(), "seed: 1,", "seed: 1 tick_rate_typo");
    let line = line_of(&text, "tick_rate_typo");
    let error = parse(&text).unwrap_err();
    let ScenarioError::Malformed {
        file,
        line: at,
        column,
        ..
    } = &error
    else {
        panic!("expected a malformed-RON error, got {error}");
    };
    assert_eq!((file.as_str(), *at), (FILE, line), "{error}");
    assert!(*column > 1, "{error}");
    assert!(
        error.to_string().starts_with(&format!("{FILE}:{line}:")),
        "{error}"
    );
}

#[test]
fn a_value_of_the_wrong_type_says_what_was_expected() {
    let text = edit(&small_text(), "ticks: 24,", "ticks: \"many\",");
    let line = line_of(&text, "\"many\"");
    let error = parse(&text).unwrap_err();
    assert!(
        matches!(&error, ScenarioError::Malformed { line: at, .. } if *at == line),
        "{error}"
    );
    assert!(
        error.to_string().to_lowercase().contains("expected"),
        "{error}"
    );
}

#[test]
fn a_missing_field_is_malformed() {
    let text = edit(&small_text(), "  tick_rate: 60,\n", "");
    let error = parse(&text).unwrap_err();
    assert!(matches!(error, ScenarioError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("tick_rate"), "{error}");
}

#[test]
fn an_unknown_field_is_malformed() {
    let text = edit(&small_text(), "  seed: 1,", "  seed: 1,\n  sed: 1,");
    let error = parse(&text).unwrap_err();
    assert!(matches!(error, ScenarioError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("sed"), "{error}");
}

#[test]
fn empty_text_is_malformed() {
    let error = parse("").unwrap_err();
    assert!(matches!(error, ScenarioError::Malformed { .. }), "{error}");
}

#[test]
fn an_unknown_format_version_is_refused_before_the_shape_is_checked() {
    let version = format!("format_version: {FORMAT_VERSION},");
    // A future version may have other fields: the version is what the error must name.
    let future = FORMAT_VERSION + 1;
    let text = edit(
        &small_text(),
        &version,
        &format!("format_version: {future},\n  new_field: (),"),
    );
    let error = parse(&text).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
                ..
            } if found == future
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("reads versions 1 to 2"),
        "{error}"
    );
    assert!(matches!(
        ScenarioInfo::parse(&text, FILE),
        Err(ScenarioError::UnsupportedVersion { .. })
    ));
}

#[test]
fn another_games_scenario_is_refused() {
    let text = edit(&small_text(), "game: \"particles\"", "game: \"asteroids\"");
    let error = parse(&text).unwrap_err();
    let ScenarioError::WrongGame {
        expected, found, ..
    } = &error
    else {
        panic!("expected a wrong-game error, got {error}");
    };
    assert_eq!(
        (expected.as_str(), found.as_str()),
        ("particles", "asteroids")
    );
}

#[test]
fn inputs_out_of_tick_order_are_refused() {
    let mut scenario = small_scenario();
    scenario.inputs.swap(1, 2);
    let (first, second) = (scenario.inputs[1].tick, scenario.inputs[2].tick);
    assert!(first > second, "the generated inputs are on distinct ticks");
    let error = parse(&scenario.to_ron().unwrap()).unwrap_err();
    let ScenarioError::InputOutOfOrder {
        index,
        tick,
        previous,
        ..
    } = error
    else {
        panic!("expected inputs out of order, got {error}");
    };
    assert_eq!((index, tick, previous), (2, second, first));
}

#[test]
fn inputs_after_the_last_tick_are_refused() {
    let mut scenario = small_scenario();
    scenario.inputs.last_mut().unwrap().tick = scenario.ticks;
    let error = parse(&scenario.to_ron().unwrap()).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::InputAfterEnd {
                tick: 24,
                ticks: 24,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn checkpoints_beyond_the_tick_count_are_refused() {
    let mut scenario = small_scenario();
    scenario.checkpoints.last_mut().unwrap().tick = scenario.ticks + 1;
    let error = parse(&scenario.to_ron().unwrap()).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::CheckpointAfterEnd {
                tick: 25,
                ticks: 24,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn checkpoints_out_of_order_are_refused() {
    let mut scenario = small_scenario();
    scenario.checkpoints.swap(1, 2);
    let error = parse(&scenario.to_ron().unwrap()).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::CheckpointOutOfOrder {
                index: 2,
                tick: 6,
                previous: 12,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_crash_before_the_last_tick_is_refused() {
    let text = edit(
        &small_text(),
        "crash: None",
        "crash: Some((tick: 3, system: \"burst\", message: \"boom\"))",
    );
    let error = parse(&text).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::CrashNotInLastTick {
                tick: 3,
                ticks: 24,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_zero_tick_rate_is_refused() {
    let text = edit(&small_text(), "tick_rate: 60", "tick_rate: 0");
    let error = parse(&text).unwrap_err();
    assert!(
        matches!(error, ScenarioError::ZeroTickRate { .. }),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let error = Scenario::load::<Particles>("/nonexistent/scenario.ron").unwrap_err();
    assert!(matches!(error, ScenarioError::Read { .. }), "{error}");
    assert!(
        error.to_string().contains("/nonexistent/scenario.ron"),
        "{error}"
    );
}

#[test]
fn the_replayer_checks_scenarios_built_in_memory() {
    let mut scenario = small_scenario();
    scenario.inputs.swap(1, 2);
    let error = Replayer::<Particles>::new(&scenario).run().unwrap_err();
    assert!(
        matches!(
            error,
            ReplayError::Scenario(ScenarioError::InputOutOfOrder { .. })
        ),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Truncated or corrupted files are errors, never panics.
    #[test]
    fn corrupted_text_never_panics(cut in 0.0f64..1.0, byte in any::<u8>(), at in 0.0f64..1.0) {
        let text = small_text();
        let cut = (text.len() as f64 * cut) as usize;
        let truncated = String::from_utf8_lossy(&text.as_bytes()[..cut]).into_owned();
        prop_assert!(parse(&truncated).is_err());
        let mut bytes = text.into_bytes();
        let at = (bytes.len() as f64 * at) as usize % bytes.len();
        bytes[at] = byte;
        let corrupted = String::from_utf8_lossy(&bytes).into_owned();
        let _ = parse(&corrupted);
    }
}

//! Loading scenario files safely: a size cap (memory stays bounded whatever the file or
//! stream says), no read of pipes or devices, a byte-order mark accepted, keys given twice
//! refused, deep nesting refused without exhausting the stack, and every semantic error at
//! the line and column of its value.

use std::{
    io::Read,
    path::{Path, PathBuf},
    sync::mpsc,
    thread,
    time::Duration,
};

use tickbus::replay::{
    DEFAULT_MAX_SCENARIO_BYTES, GameScenario, LoadOptions, Scenario, ScenarioError, ScenarioInfo,
    TextPosition,
};
use tickbus_tests::{particles::Particles, scenario_support::short_particle_run};

const FILE: &str = "test.ron";

fn small_scenario() -> GameScenario<Particles> {
    let scenario = short_particle_run(3, 30, 10, 5);
    assert!(scenario.inputs.len() >= 4, "the tests need a few inputs");
    scenario
}

fn parse(text: &str) -> Result<GameScenario<Particles>, ScenarioError> {
    Scenario::parse::<Particles>(text, FILE)
}

fn temp_dir(test: &str) -> PathBuf {
    tickbus_tests::fresh_temp_dir(&format!("loading-{test}"))
}

/// Runs `load` on another thread and fails (instead of hanging) if it takes more than 30 s.
fn load_within_bounded_time<T: Send + 'static>(load: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    thread::spawn(move || done.send(load()));
    result
        .recv_timeout(Duration::from_secs(30))
        .expect("loading must not block")
}

/// The 1-based position of the `n`-th (from 0) line starting with `prefix` (after
/// indentation) and of `needle` within it.
fn position_in_nth_line(text: &str, prefix: &str, n: usize, needle: &str) -> TextPosition {
    let (index, line) = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim_start().starts_with(prefix))
        .nth(n)
        .expect("such a line");
    TextPosition {
        line: index + 1,
        column: line.find(needle).expect("the needle") + 1,
    }
}

#[test]
fn an_input_out_of_order_is_placed_at_its_tick() {
    let mut scenario = small_scenario();
    scenario.inputs.swap(2, 3);
    let text = scenario.to_ron().unwrap();
    let error = parse(&text).unwrap_err();
    assert!(
        matches!(error, ScenarioError::InputOutOfOrder { index: 3, .. }),
        "{error}"
    );
    // Inputs are the lines `(tick: N, event: …)`; the value starts after `tick: `.
    let mut expected = position_in_nth_line(&text, "(tick:", 3, "tick: ");
    expected.column += "tick: ".len();
    assert_eq!(error.position(), Some(expected), "{error}");
    let prefix = format!("{FILE}:{}:{}: ", expected.line, expected.column);
    assert!(error.to_string().starts_with(&prefix), "{error}");
}

#[test]
fn a_checkpoint_beyond_the_end_is_placed_at_its_tick() {
    let mut scenario = small_scenario();
    scenario.checkpoints.last_mut().unwrap().tick = scenario.ticks + 5;
    let text = scenario.to_ron().unwrap();
    let error = parse(&text).unwrap_err();
    let inputs = scenario.inputs.len();
    // Checkpoints are the `(tick:` lines after the inputs.
    let mut expected = position_in_nth_line(&text, "(tick:", inputs + 3, "tick: ");
    expected.column += "tick: ".len();
    assert!(
        matches!(error, ScenarioError::CheckpointAfterEnd { index: 3, .. }),
        "{error}"
    );
    assert_eq!(error.position(), Some(expected), "{error}");
}

#[test]
fn a_scenario_built_in_memory_has_no_position() {
    let mut scenario = small_scenario();
    scenario.inputs.swap(2, 3);
    let error = scenario.validate("memory").unwrap_err();
    assert_eq!(error.position(), None);
    assert!(
        error.to_string().starts_with("memory: inputs[3]"),
        "{error}"
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let scenario = small_scenario();
    let text = format!("\u{feff}{}", scenario.to_ron().unwrap());
    assert_eq!(parse(&text).unwrap(), scenario);
    assert_eq!(ScenarioInfo::parse(&text, FILE).unwrap().game, "particles");
    let loaded = LoadOptions::new().read::<Particles>(text.as_bytes(), FILE);
    assert_eq!(loaded.unwrap(), scenario);
}

#[test]
fn a_component_given_twice_in_a_checkpoint_is_refused() {
    let text = small_scenario().to_ron().unwrap();
    let line = text
        .lines()
        .position(|line| line.contains("components: {\"Bounces\""))
        .unwrap();
    let edited = text.replacen("{\"Bounces\": ", "{\"Bounces\": 1, \"Bounces\": ", 1);
    let error = parse(&edited).unwrap_err();
    assert!(
        matches!(error, ScenarioError::Malformed { line: at, .. } if at == line + 1),
        "{error}"
    );
    assert!(
        error.to_string().contains("\"Bounces\" is given twice"),
        "{error}"
    );
}

#[test]
fn a_field_given_twice_is_refused() {
    let text = small_scenario().to_ron().unwrap();
    let edited = text.replacen("  seed: 3,\n", "  seed: 3,\n  seed: 4,\n", 1);
    let error = parse(&edited).unwrap_err();
    assert!(
        matches!(error, ScenarioError::Malformed { line: 5, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("duplicate field"), "{error}");
}

#[test]
fn errors_do_not_name_internal_types() {
    let text = small_scenario().to_ron().unwrap();
    let without_game = text.replacen("  game: \"particles\",\n", "", 1);
    for error in [
        parse(&without_game).unwrap_err(),
        ScenarioInfo::parse(&without_game, FILE).unwrap_err(),
        ScenarioInfo::parse("(format_version: 1)", FILE).unwrap_err(),
    ] {
        let message = error.to_string();
        assert!(message.contains("game"), "{message}");
        assert!(!message.contains("ScenarioInfo"), "{message}");
        assert!(!message.contains("ron::"), "{message}");
    }
}

#[test]
fn nesting_a_hundred_thousand_deep_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let text = small_scenario().to_ron().unwrap();
    let config_start = text.find("  config: (").unwrap();
    let inputs_start = text.find("  inputs: [").unwrap();
    let nested = format!(
        "{}  config: {deep},\n{}",
        &text[..config_start],
        &text[inputs_start..]
    );
    // The header reader skips the config; the full reader expects a struct there.
    let error = ScenarioInfo::parse(&nested, FILE).unwrap_err();
    let ScenarioError::Malformed { error: cause, .. } = &error else {
        panic!("expected a malformed file, got {error}");
    };
    assert!(cause.is_too_deep(), "{error}");
    assert!(error.to_string().contains("nested more than"), "{error}");
    assert!(matches!(
        parse(&nested),
        Err(ScenarioError::Malformed { .. })
    ));
    // Deep nesting where the value is skipped as unknown: refused as well.
    let unknown = text.replacen(
        "  seed: 3,\n",
        &format!("  seed: 3,\n  extra: {deep},\n"),
        1,
    );
    assert!(matches!(
        parse(&unknown),
        Err(ScenarioError::Malformed { .. })
    ));
}

#[test]
fn extreme_numbers_are_values_or_errors_never_allocations() {
    let text = small_scenario().to_ron().unwrap();
    // A tick count of u64::MAX is a valid (very long) scenario: nothing is sized by it.
    let longest = text.replacen("ticks: 30,", "ticks: 18446744073709551615,", 1);
    assert_eq!(parse(&longest).unwrap().ticks, u64::MAX);
    let overflow = text.replacen("ticks: 30,", "ticks: 18446744073709551616,", 1);
    let error = parse(&overflow).unwrap_err();
    assert!(
        matches!(error, ScenarioError::Malformed { line: 6, .. }),
        "{error}"
    );
    let fast = text.replacen("tick_rate: 60,", "tick_rate: 4294967295,", 1);
    let error = parse(&fast).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::TickRateTooHigh {
                tick_rate: u32::MAX,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.position().map(|p| p.line), Some(5), "{error}");
}

/// An endless scenario: the head, then an input list that never ends (ten million entries
/// would be about 400 MB).
struct EndlessInputs {
    head: Vec<u8>,
    position: usize,
}

impl Read for EndlessInputs {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        const ENTRY: &[u8] = b"    (tick: 0, event: Wind((1.0, 2.0))),\n";
        for byte in buffer.iter_mut() {
            *byte = match self.position.checked_sub(self.head.len()) {
                None => self.head[self.position],
                Some(in_list) => ENTRY[in_list % ENTRY.len()],
            };
            self.position += 1;
        }
        Ok(buffer.len())
    }
}

#[test]
fn an_endless_stream_stops_at_the_size_limit() {
    let text = small_scenario().to_ron().unwrap();
    let head = text[..text.find("  inputs: [").unwrap()].to_owned() + "  inputs: [\n";
    let endless = EndlessInputs {
        head: head.into_bytes(),
        position: 0,
    };
    let limit = 4 * 1024 * 1024;
    let error = LoadOptions::new()
        .max_bytes(limit)
        .read::<Particles>(endless, "endless")
        .unwrap_err();
    assert!(
        matches!(error, ScenarioError::TooLarge { limit: 4194304, .. }),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("cannot read endless"),
        "{error}"
    );
}

#[test]
fn a_file_over_the_limit_is_refused_before_it_is_read() {
    let dir = temp_dir("limit");
    let scenario = small_scenario();
    let path = dir.join("scenario.ron");
    scenario.save(&path).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let error = LoadOptions::new()
        .max_bytes(size - 1)
        .load::<Particles>(&path)
        .unwrap_err();
    assert!(matches!(error, ScenarioError::TooLarge { .. }), "{error}");
    let exact = LoadOptions::new().max_bytes(size).load::<Particles>(&path);
    assert_eq!(exact.unwrap(), scenario);

    // The default limit: a sparse file just over it is refused without reading 256 MiB.
    let sparse = dir.join("sparse.ron");
    let file = std::fs::File::create(&sparse).unwrap();
    file.set_len(DEFAULT_MAX_SCENARIO_BYTES + 1).unwrap();
    let error = Scenario::load::<Particles>(&sparse).unwrap_err();
    assert!(
        matches!(error, ScenarioError::TooLarge { limit, .. } if limit == DEFAULT_MAX_SCENARIO_BYTES),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn text_in_memory_over_the_limit_is_refused_before_it_is_parsed() {
    let scenario = small_scenario();
    let text = scenario.to_ron().unwrap();
    let length = text.len() as u64;
    let tight = LoadOptions::new().max_bytes(length - 1);
    let error = tight.parse::<Particles>(&text, FILE).unwrap_err();
    assert!(
        matches!(error, ScenarioError::TooLarge { limit, .. } if limit == length - 1),
        "{error}"
    );
    let error = tight.parse_info(&text, FILE).unwrap_err();
    assert!(matches!(error, ScenarioError::TooLarge { .. }), "{error}");
    let exact = LoadOptions::new().max_bytes(length);
    assert_eq!(exact.parse::<Particles>(&text, FILE).unwrap(), scenario);
    assert_eq!(exact.parse_info(&text, FILE).unwrap().game, "particles");
}

fn assert_not_a_file(path: &Path) {
    let owned = path.to_owned();
    let error = load_within_bounded_time(move || Scenario::load::<Particles>(owned).unwrap_err());
    assert!(matches!(error, ScenarioError::NotAFile { .. }), "{error}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    let owned = path.to_owned();
    let error = load_within_bounded_time(move || ScenarioInfo::load(owned).unwrap_err());
    assert!(matches!(error, ScenarioError::NotAFile { .. }), "{error}");
}

#[test]
fn a_directory_is_not_a_scenario() {
    let dir = temp_dir("directory");
    assert_not_a_file(&dir);
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_without_reading_it() {
    assert_not_a_file(Path::new("/dev/zero"));
}

#[cfg(unix)]
#[test]
fn a_pipe_without_a_writer_is_refused_without_blocking() {
    let dir = temp_dir("fifo");
    let fifo = dir.join("scenario.ron");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    assert_not_a_file(&fifo);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn text_that_is_not_utf8_is_placed_at_the_first_bad_byte() {
    let text = small_scenario().to_ron().unwrap();
    let mut bytes = text.into_bytes();
    let at = bytes.windows(9).position(|w| w == b"particles").unwrap();
    bytes[at + 4] = 0xe9;
    let error = LoadOptions::new()
        .read::<Particles>(&bytes[..], FILE)
        .unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::NotUtf8 {
                line: 3,
                column: 14,
                ..
            }
        ),
        "{error}"
    );
}

//! The command line as a user runs it: exit codes and messages of `record`, `replay` (good,
//! diverging, malformed and missing files, shards, JSON, the default folder, `--seek` and
//! `--dump`, `--bisect`, `--timedemo` and `--trace`) and `plan`.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const BIN: &str = env!("CARGO_BIN_EXE_game-demo");

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("game-demo runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

/// Asserts the exit code and that the output says `needle`, showing the output otherwise.
fn expect_exit(output: &Output, expected: i32, needle: &str) {
    let said = text(output);
    assert_eq!(code(output), expected, "{said}");
    assert!(said.contains(needle), "{said}");
}

/// Records a short bot game into `dir` and returns its path.
fn recorded(dir: &Path, name: &str, checkpoint_every: &str) -> PathBuf {
    recorded_with(dir, name, &["--checkpoint-every", checkpoint_every])
}

/// Records 300 ticks of the hunter bot into `dir` with `extra` arguments; returns the path.
fn recorded_with(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["record", "--seed", "4", "--ticks", "300", "--bot", "hunter"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", name]);
    let output = run(&args, dir);
    assert_eq!(code(&output), 0, "{}", text(&output));
    dir.join(name)
}

/// An empty folder `set` in `dir`, and a recorded `good.ron` beside it.
fn folder_and_recording(dir: &Path) -> (PathBuf, PathBuf) {
    let folder = dir.join("set");
    std::fs::create_dir(&folder).unwrap();
    (folder, recorded(dir, "good.ron", "60"))
}

/// Changes the first turn the bot recorded in `file` into a shot; returns its tick.
fn change_an_input(file: &Path) -> u64 {
    let original = std::fs::read_to_string(file).unwrap();
    let line = original
        .lines()
        .find(|line| line.contains("event: Down(Left)") || line.contains("event: Down(Right)"))
        .expect("the bot turned");
    let tick = line
        .split("tick: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|tick| tick.parse().ok())
        .expect("a tick");
    let changed = line
        .replace("Down(Left)", "Down(Fire)")
        .replace("Down(Right)", "Down(Fire)");
    std::fs::write(file, original.replacen(line, &changed, 1)).unwrap();
    tick
}

#[test]
fn a_recorded_game_replays_and_verifies_on_every_executor() {
    let dir = tempfile::tempdir().unwrap();
    let file = recorded(dir.path(), "good.ron", "30");
    for executor in [
        &["--sequential"][..],
        &["--threads", "1"],
        &["--threads", "4"],
    ] {
        let mut args = vec!["replay", "good.ron"];
        args.extend_from_slice(executor);
        let output = run(&args, dir.path());
        let said = text(&output);
        assert_eq!(code(&output), 0, "{said}");
        assert!(said.contains("good.ron: verified"), "{said}");
        assert!(said.contains("300 ticks"), "{said}");
        assert!(said.contains("11/11 checkpoints"), "{said}");
        assert!(said.contains("final hash "), "{said}");
    }
    assert!(file.exists());
}

/// Records `diverging.ron` with a checkpoint every tick, then changes one recorded command
/// (so the ship steers differently from that tick on). Returns the file and that tick.
fn diverging(dir: &Path) -> (PathBuf, u64) {
    let file = recorded(dir, "diverging.ron", "1");
    let tick = change_an_input(&file);
    (file, tick)
}

#[test]
fn a_diverging_scenario_exits_1_naming_the_tick_and_the_component() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tick) = diverging(dir.path());

    let output = run(&["replay", "diverging.ron"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 1, "{said}");
    assert!(said.contains("diverging.ron: DIVERGED"), "{said}");
    assert!(
        said.contains(&format!("first divergent tick {tick}")),
        "tick {tick}: {said}"
    );
    assert!(
        said.contains("Controls"),
        "names the differing resource: {said}"
    );
}

/// A diverged file's JSON report, every key read once (a key given twice is an error).
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct DivergedReport {
    file: String,
    status: String,
    game: String,
    ticks: u64,
    ticks_per_second: f64,
    times_real_time: f64,
    checkpoints_verified: usize,
    checkpoints_total: usize,
    final_hash: String,
    crash_reproduced: Option<String>,
    first_divergent_tick: Option<u64>,
    divergent_ticks: (u64, u64),
    components: Vec<String>,
    message: String,
}

#[test]
fn a_diverged_json_report_has_every_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tick) = diverging(dir.path());

    let output = run(&["replay", "diverging.ron", "--json"], dir.path());
    assert_eq!(code(&output), 1, "{}", text(&output));
    let line = String::from_utf8(output.stdout).unwrap();
    let report: DivergedReport =
        serde_json::from_str(line.trim()).unwrap_or_else(|error| panic!("{error}: {line}"));
    // serde takes a missing optional key for null: the key must be written all the same.
    let keys: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert!(keys.get("crash_reproduced").is_some(), "{line}");
    assert_eq!(
        (report.file.as_str(), report.status.as_str()),
        ("diverging.ron", "diverged")
    );
    assert_eq!(report.game, "asteroids");
    assert_eq!(report.first_divergent_tick, Some(tick));
    assert_eq!(report.divergent_ticks, (tick, tick + 1));
    // The checkpoint after the changed tick failed; the ones before it matched.
    assert_eq!(report.ticks, tick + 1);
    assert_eq!(report.checkpoints_verified as u64, tick + 1);
    assert!(report.checkpoints_total > report.checkpoints_verified);
    assert!(
        report.components.contains(&"Controls".to_owned()),
        "{report:?}"
    );
    assert!(report.ticks_per_second >= 0.0 && report.times_real_time >= 0.0);
    assert_eq!(report.final_hash.len(), 16, "{report:?}");
    assert_eq!(report.crash_reproduced, None, "the recording did not crash");
    assert!(report.message.contains("Controls"), "{report:?}");
}

/// Records `edited.ron` and changes the combined hash of its checkpoint at tick 60, not the
/// hashes of its components.
fn hash_edited(dir: &Path) {
    let file = recorded(dir, "edited.ron", "60");
    let original = std::fs::read_to_string(&file).unwrap();
    let line = original
        .lines()
        .find(|line| line.contains("(tick: 60, hash: "))
        .expect("a checkpoint at tick 60");
    let hash: u64 = line
        .split("hash: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|hash| hash.parse().ok())
        .expect("a hash");
    let edited = line.replacen(
        &format!("hash: {hash},"),
        &format!("hash: {},", hash.wrapping_add(1)),
        1,
    );
    std::fs::write(&file, original.replacen(line, &edited, 1)).unwrap();
}

const HASH_ALONE_DIFFERS: &str =
    "every component and resource matches, only the combined hash differs";

#[test]
fn a_checkpoint_whose_combined_hash_alone_differs_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    hash_edited(dir.path());

    let output = run(&["replay", "edited.ron"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 1, "{said}");
    let message = said.lines().nth(1).expect("the divergence").trim_end();
    assert!(message.contains(HASH_ALONE_DIFFERS), "{said}");
    assert!(
        !message.ends_with(':'),
        "no empty list of components: {said}"
    );
}

#[test]
fn the_timedemo_explains_a_divergence_as_replay_does() {
    let dir = tempfile::tempdir().unwrap();
    hash_edited(dir.path());
    let plain = text(&run(&["replay", "edited.ron"], dir.path()));
    let explanation = plain.lines().nth(1).expect("the divergence");
    assert!(explanation.contains(HASH_ALONE_DIFFERS), "{plain}");

    let output = run(&["replay", "edited.ron", "--timedemo"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 1, "{said}");
    assert!(said.contains(explanation), "{explanation} in {said}");
    assert!(said.contains("wall time"), "and the table: {said}");

    let (exit, json) = timedemo_json(dir.path(), "edited.ron", &[]);
    assert_eq!(exit, 1, "{json}");
    assert_eq!(json["verified"], false);
    assert_eq!(json["replay"]["status"], "diverged");
    assert_eq!(json["replay"]["message"], explanation.trim(), "{json}");
}

#[test]
fn an_edited_config_with_huge_counts_is_refused_at_its_position_and_later_files_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, good) = folder_and_recording(dir.path());
    let original = std::fs::read_to_string(&good).unwrap();
    assert_eq!(original.lines().nth(6), Some("  config: ("));
    let huge_waves = original
        .replacen("first_wave: 4,", "first_wave: 4000000000,", 1)
        .replacen("max_wave: 11,", "max_wave: 4000000000,", 1);
    std::fs::write(folder.join("a-waves.ron"), huge_waves).unwrap();
    let huge_debris = original.replacen("debris: 8,", "debris: 4000000000,", 1);
    std::fs::write(folder.join("b-debris.ron"), huge_debris).unwrap();
    std::fs::copy(&good, folder.join("c-good.ron")).unwrap();

    let output = run(&["replay", "set"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 2, "{said}");
    assert!(
        said.contains("a-waves.ron:7:11: the game refuses this config: first_wave is 4000000000, more than the game allows (10000)"),
        "{said}"
    );
    assert!(
        said.contains("b-debris.ron:7:11: the game refuses this config: debris is 4000000000"),
        "{said}"
    );
    assert!(said.contains("c-good.ron: verified"), "{said}");
    assert!(
        said.contains("1 verified, 0 diverged, 2 unreadable"),
        "{said}"
    );
}

#[test]
fn a_scenario_of_absurdly_many_ticks_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = recorded(dir.path(), "endless.ron", "60");
    let original = std::fs::read_to_string(&file).unwrap();
    let endless = original.replacen("ticks: 300,", &format!("ticks: {},", u64::MAX), 1);
    std::fs::write(&file, endless).unwrap();

    let output = run(&["replay", "endless.ron"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 2, "{said}");
    assert!(
        said.contains(&format!(
            "endless.ron: the scenario runs {} ticks, more than the limit of 10000000 (--max-ticks raises it)",
            u64::MAX
        )),
        "{said}"
    );
    // The limit is the user's to choose.
    std::fs::write(&file, original).unwrap();
    let output = run(&["replay", "endless.ron", "--max-ticks", "299"], dir.path());
    assert_eq!(code(&output), 2, "{}", text(&output));
    let output = run(&["replay", "endless.ron", "--max-ticks", "300"], dir.path());
    assert_eq!(code(&output), 0, "{}", text(&output));
}

#[test]
fn play_says_plainly_what_it_needs() {
    let output = run(&["play", "--record", "/proc/x.ron"], Path::new("."));
    assert_eq!(code(&output), 1);
    assert!(
        text(&output)
            .contains("error: cannot record to /proc/x.ron: cannot create a file in /proc"),
        "refused before the game starts: {}",
        text(&output)
    );
    let output = run(&["play", "--seed", "1"], Path::new("."));
    expect_exit(&output, 1, "error: game-demo play needs a terminal");
}

#[test]
fn a_malformed_scenario_exits_2_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = recorded(dir.path(), "broken.ron", "60");
    let original = std::fs::read_to_string(&file).unwrap();
    // Line 4 is `  seed: 4,`; make its value a word.
    assert_eq!(original.lines().nth(3), Some("  seed: 4,"));
    std::fs::write(&file, original.replacen("  seed: 4,", "  seed: four,", 1)).unwrap();

    let output = run(&["replay", "broken.ron"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 2, "{said}");
    assert!(said.contains("broken.ron:4:9:"), "file:line:column: {said}");
}

#[test]
fn a_missing_file_exits_2_and_the_others_are_still_replayed() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "60");
    let output = run(&["replay", "good.ron", "missing.ron"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 2, "{said}");
    assert!(said.contains("good.ron: verified"), "{said}");
    assert!(
        said.contains("missing.ron: ERROR  cannot read missing.ron"),
        "{said}"
    );
    assert!(
        said.contains("1 verified, 0 diverged, 1 unreadable"),
        "{said}"
    );
}

#[test]
fn shards_split_the_files_and_json_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, good) = folder_and_recording(dir.path());
    for name in ["a.ron", "b.ron", "c.ron"] {
        std::fs::copy(&good, folder.join(name)).unwrap();
    }
    let shard = |index: &str| {
        let output = run(&["replay", "set", "--json", "--shard", index], dir.path());
        assert_eq!(code(&output), 0, "{}", text(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let (first, second) = (shard("0/2"), shard("1/2"));
    assert_eq!(first.lines().count(), 2, "{first}");
    assert_eq!(second.lines().count(), 1, "{second}");
    assert!(first.contains("a.ron") && first.contains("c.ron") && second.contains("b.ron"));
    let report: serde_json::Value = serde_json::from_str(second.trim()).unwrap();
    assert_eq!(report["status"], "verified");
    assert_eq!(report["ticks"], 300);
    assert_eq!(report["checkpoints_verified"], report["checkpoints_total"]);

    let output = run(&["replay", "set", "--shard", "2/2"], dir.path());
    expect_exit(
        &output,
        2,
        "I must be at least 0 and less than N (0/2 to 1/2)",
    );
    let output = run(&["replay", "set", "--shard", "1/0"], dir.path());
    expect_exit(
        &output,
        2,
        "shard 1/0: N is the number of shards and must be at least 1",
    );
}

#[test]
fn without_arguments_and_a_terminal_every_scenario_in_the_folder_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    let good = recorded(dir.path(), "good.ron", "60");
    std::fs::copy(good, scenarios.join("mine.ron")).unwrap();
    // A scenario of another game is skipped, not refused.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(
        workspace.join("scenarios/particles.ron"),
        scenarios.join("particles.ron"),
    )
    .unwrap();

    let output = run(&[], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 0, "{said}");
    assert!(said.contains("mine.ron: verified"), "{said}");
    assert!(said.contains("particles.ron: skipped"), "{said}");
    assert!(said.contains("2 file(s)"), "{said}");
}

#[test]
fn another_games_file_is_skipped_in_a_named_folder_and_refused_when_named_itself() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("set");
    std::fs::create_dir(&scenarios).unwrap();
    let good = recorded(dir.path(), "good.ron", "60");
    std::fs::copy(good, scenarios.join("mine.ron")).unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let particles = scenarios.join("particles.ron");
    std::fs::copy(workspace.join("scenarios/particles.ron"), &particles).unwrap();

    let output = run(&["replay", "set"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 0, "{said}");
    assert!(said.contains("mine.ron: verified"), "{said}");
    assert!(said.contains("particles.ron: skipped"), "{said}");

    let output = run(&["replay", "set/particles.ron"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 2, "{said}");
    assert!(said.contains("not of \"asteroids\""), "{said}");
}

#[test]
fn the_plan_shows_systems_that_may_run_together_and_why_edges_exist() {
    let output = run(&["plan"], Path::new("."));
    let said = text(&output);
    assert_eq!(code(&output), 0, "{said}");
    assert!(said.contains("may run together:"), "{said}");
    let overlapping = said.lines().filter(|line| line.contains(" || ")).count();
    assert!(overlapping >= 20, "{overlapping} pairs: {said}");
    assert!(
        said.contains("award_points || narrowphase")
            || said.contains("narrowphase || award_points")
    );
    assert!(
        said.contains("spawn order: one spawns (declared), the other uses Commands"),
        "{said}"
    );
    assert!(said.contains("Spawners"), "the declared spawners: {said}");
}

#[test]
fn every_subcommand_has_help_and_bad_arguments_are_explained() {
    for subcommand in ["play", "record", "replay", "plan"] {
        let output = run(&[subcommand, "--help"], Path::new("."));
        assert_eq!(code(&output), 0, "{subcommand}: {}", text(&output));
        assert!(
            text(&output).contains("Usage: game-demo"),
            "{}",
            text(&output)
        );
    }
    let output = run(
        &[
            "record", "--ticks", "10", "--out", "x.ron", "--bot", "nobody",
        ],
        Path::new("."),
    );
    assert_eq!(code(&output), 2);
    assert!(
        text(&output).contains("no bot called \"nobody\"; the bots are hunter"),
        "{}",
        text(&output)
    );
    let output = run(
        &["replay", "--threads", "2", "--sequential"],
        Path::new("."),
    );
    expect_exit(&output, 2, "cannot be used with");
}

#[test]
fn seek_dump_prints_the_world_at_that_tick_as_ron() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "game.ron", "60");
    let output = run(
        &["replay", "game.ron", "--seek", "130", "--dump"],
        dir.path(),
    );
    assert_eq!(code(&output), 0, "{}", text(&output));
    let dump = String::from_utf8(output.stdout).unwrap();
    // Exactly the world a straight replay has there.
    let scenario =
        tickbus::replay::Scenario::load::<game_demo::game::Asteroids>(dir.path().join("game.ron"))
            .unwrap();
    let mut timeline = tickbus::replay::Timeline::<game_demo::game::Asteroids>::open(
        &scenario,
        tickbus::ExecutorKind::Sequential,
    )
    .unwrap();
    for _ in 0..130 {
        timeline.step().unwrap();
    }
    let expected = timeline.snapshot().unwrap().to_ron();
    assert_eq!(dump.trim_end(), expected.trim_end());
    assert!(dump.starts_with("(\n  tick: 130,"), "{dump}");
    for part in [
        "entities: [",
        "components: {",
        "\"Ship\"",
        "resources: {",
        "\"Score\"",
    ] {
        assert!(dump.contains(part), "{part} in {dump}");
    }
    // Another tick is another world.
    let other = run(
        &["replay", "game.ron", "--seek", "131", "--dump"],
        dir.path(),
    );
    assert_ne!(String::from_utf8(other.stdout).unwrap(), dump);
}

#[test]
fn seek_past_the_end_or_without_one_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "game.ron", "60");
    let output = run(
        &["replay", "game.ron", "--seek", "301", "--dump"],
        dir.path(),
    );
    expect_exit(&output, 2, "beyond the end");
    let output = run(&["replay", "--seek", "3"], dir.path());
    assert_eq!(code(&output), 2);
    assert!(text(&output).contains("exactly one"), "{}", text(&output));
    let output = run(&["replay", "game.ron", "--dump"], dir.path());
    assert_eq!(
        output.status.code(),
        Some(2),
        "clap refuses --dump without --seek"
    );
}

#[test]
fn bisect_names_the_tick_type_entity_and_values_of_a_recording_with_values() {
    let dir = tempfile::tempdir().unwrap();
    recorded_with(
        dir.path(),
        "values.ron",
        &["--checkpoint-every", "1", "--values"],
    );
    let output = run(&["replay", "values.ron", "--bisect"], dir.path());
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(text(&output).contains("no divergence"));

    let tick = change_an_input(&dir.path().join("values.ron"));
    let output = run(&["replay", "values.ron", "--bisect"], dir.path());
    let text = text(&output);
    assert_eq!(code(&output), 1, "{text}");
    assert!(text.contains("values.ron: DIVERGED"), "{text}");
    // The changed input is collected by tick `tick`: the state after it differs.
    let pinned = format!(
        "first divergent tick: {tick} (the state after it, at tick count {}",
        tick + 1
    );
    assert!(text.contains(&pinned), "{pinned}: {text}");
    assert!(text.contains("Controls"), "the type: {text}");
    assert!(
        text.contains("resource Controls: expected Controls {"),
        "the values: {text}"
    );
    // The ship turned in the recording and fired instead in the changed file.
    assert!(text.contains("Ship of entity "), "the entity: {text}");
}

#[test]
fn bisect_of_a_recording_with_only_hashes_says_how_to_get_more() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "hashes.ron", "60");
    let tick = change_an_input(&dir.path().join("hashes.ron"));
    let output = run(&["replay", "hashes.ron", "--bisect"], dir.path());
    let text = text(&output);
    assert_eq!(code(&output), 1, "{text}");
    let from = tick / 60 * 60;
    let window = format!("diverged between tick {from} and checkpoint {}", from + 60);
    assert!(text.contains(&window), "{window}: {text}");
    assert!(text.contains("--checkpoint-every 1 --values"), "{text}");
}

/// `replay FILE --timedemo --json [--trace TRACE]` in `dir`: the exit code, the JSON records.
fn timedemo_json(dir: &Path, file: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["replay", file, "--timedemo", "--json"];
    args.extend_from_slice(extra);
    let output = run(&args, dir);
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output)));
    (code(&output), json)
}

#[test]
fn timedemo_prints_the_table_and_json_gives_every_tick() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "30");
    let output = run(&["replay", "good.ron", "--timedemo"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 0, "{said}");
    // The replay's line, as `replay` prints it.
    assert!(said.contains("good.ron: verified  300 ticks") && said.contains("11/11 checkpoints"));
    for part in [
        "wall time",
        "events per tick",
        "input::Command",
        "integrate",
        "parallel: ",
    ] {
        assert!(said.contains(part), "{part}: {said}");
    }

    let (exit, json) = timedemo_json(dir.path(), "good.ron", &["--threads", "2"]);
    assert_eq!(exit, 0, "{json}");
    assert_eq!(json["verified"], true);
    let systems = json["systems"].as_array().unwrap().len();
    let ticks = json["ticks"].as_array().unwrap();
    assert_eq!(ticks.len(), 300);
    for (index, tick) in ticks.iter().enumerate() {
        assert_eq!(tick["tick"], index);
        assert_eq!(tick["systems_ns"].as_array().unwrap().len(), systems);
        assert!(tick["duration_ns"].as_u64().unwrap() > 0);
    }
}

#[test]
fn trace_writes_one_complete_event_per_system_run() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "30");
    let (exit, json) = timedemo_json(dir.path(), "good.ron", &["--trace", "trace.json"]);
    assert_eq!(exit, 0, "{json}");
    let runs = (json["ticks"].as_array().unwrap().iter())
        .flat_map(|tick| tick["systems_ns"].as_array().unwrap())
        .filter(|time| !time.is_null())
        .count();
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("trace.json")).unwrap())
            .unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let complete = events.iter().filter(|event| event["ph"] == "X").count();
    assert!(runs > 300, "most systems run every tick: {runs}");
    assert_eq!(complete, runs, "one complete event per system run");
    assert!(events.iter().any(|event| event["name"] == "thread_name"));

    assert_eq!(json["replay"]["status"], "verified", "{json}");
}

/// `text` without the figures of speed (ticks/s, × real time), which differ run to run.
fn without_speed(text: &str) -> String {
    let parts = text.split("  ");
    let kept = parts.filter(|part| !part.ends_with(" ticks/s") && !part.ends_with("x real time"));
    kept.collect::<Vec<_>>().join("  ")
}

/// A JSON report without the figures of speed.
fn json_without_speed(line: &[u8]) -> serde_json::Value {
    let mut report: serde_json::Value = serde_json::from_slice(line)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(line)));
    let fields = report.as_object_mut().expect("an object");
    assert!(fields.remove("ticks_per_second").is_some(), "{fields:?}");
    assert!(fields.remove("times_real_time").is_some(), "{fields:?}");
    report
}

#[test]
fn trace_without_timedemo_prints_what_replay_prints() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "30");
    diverging(dir.path());
    for file in ["good.ron", "diverging.ron"] {
        let plain = run(&["replay", file], dir.path());
        let traced = run(&["replay", file, "--trace", "t.json"], dir.path());
        assert_eq!(code(&traced), code(&plain), "{}", text(&traced));
        let (plain, traced) = (text(&plain), text(&traced));
        assert!(plain.contains("final hash") && plain.contains("1 file(s) on"));
        assert_eq!(without_speed(&traced), without_speed(&plain));

        let plain = run(&["replay", file, "--json"], dir.path());
        let traced = run(&["replay", file, "--json", "--trace", "t.json"], dir.path());
        assert_eq!(code(&traced), code(&plain), "{}", text(&traced));
        assert_eq!(
            json_without_speed(&traced.stdout),
            json_without_speed(&plain.stdout)
        );
        let trace = std::fs::read_to_string(dir.path().join("t.json")).unwrap();
        let trace: serde_json::Value = serde_json::from_str(&trace).unwrap();
        assert!(!trace["traceEvents"].as_array().unwrap().is_empty());
    }
}

#[test]
fn json_to_a_file_writes_what_stdout_would_get_and_the_text_still_shows() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "30");
    let stdout = run(&["replay", "good.ron", "--json"], dir.path());
    let output = run(&["replay", "good.ron", "--json=out.json"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 0, "{said}");
    assert!(said.contains("good.ron: verified") && said.contains("1 file(s) on"));
    let written = std::fs::read(dir.path().join("out.json")).unwrap();
    assert_eq!(
        json_without_speed(&written),
        json_without_speed(&stdout.stdout)
    );

    let output = run(
        &["replay", "good.ron", "--timedemo", "--json=demo.json"],
        dir.path(),
    );
    let said = text(&output);
    assert_eq!(code(&output), 0, "{said}");
    assert!(said.contains("good.ron: verified") && said.contains("wall time"));
    let written = std::fs::read_to_string(dir.path().join("demo.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(json["ticks"].as_array().unwrap().len(), 300);

    let output = run(
        &["replay", "good.ron", "--json=/nonexistent/x.json"],
        dir.path(),
    );
    expect_exit(
        &output,
        2,
        "cannot write the JSON (--json) to /nonexistent/x.json",
    );
    assert!(output.stdout.is_empty(), "refused before the replay");
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_the_scenario_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = folder_and_recording(dir.path());
    for args in [
        &[
            "replay",
            "missing.ron",
            "--timedemo",
            "--trace",
            "/nonexistent/t.json",
        ][..],
        &["replay", "missing.ron", "--trace", "/nonexistent/t.json"],
        &["replay", "good.ron", "--timedemo", "--trace", "set"],
        &["replay", "missing.ron", "--timedemo", "--json=set"],
    ] {
        let output = run(args, dir.path());
        let said = text(&output);
        assert_eq!(code(&output), 2, "{args:?}: {said}");
        let path = args.last().unwrap().trim_start_matches("--json=");
        let flag = if args.contains(&"--trace") {
            "--trace"
        } else {
            "--json"
        };
        assert!(
            said.contains(&format!("({flag}) to {path}: ")),
            "{args:?}: {said}"
        );
        assert!(!said.contains("missing.ron"), "checked first: {said}");
        assert!(output.stdout.is_empty(), "nothing replayed: {said}");
    }
    assert!(folder.is_dir());
}

#[test]
fn a_trace_that_fails_at_the_end_still_shows_the_results() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "30");
    let output = run(
        &["replay", "good.ron", "--timedemo", "--trace", "/dev/full"],
        dir.path(),
    );
    expect_exit(
        &output,
        2,
        "cannot write the trace (--trace) to /dev/full: ",
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("good.ron: verified") && stdout.contains("wall time"));
}

#[test]
fn a_replay_that_cannot_start_leaves_no_new_file_and_keeps_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.json"), "keep").unwrap();
    for args in [
        &["replay", "missing.ron", "--timedemo", "--trace", "new.json"][..],
        &["replay", "missing.ron", "--timedemo", "--json=new.json"],
        &["replay", "missing.ron", "--timedemo", "--trace", "old.json"],
        &["replay", "missing.ron", "--timedemo", "--json=old.json"],
    ] {
        let output = run(args, dir.path());
        expect_exit(&output, 2, "cannot read missing.ron");
        assert!(!dir.path().join("new.json").exists(), "{args:?}");
        let old = std::fs::read_to_string(dir.path().join("old.json")).unwrap();
        assert_eq!(old, "keep", "{args:?}");
    }
}

#[test]
fn errors_say_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [
        &["--timedemo"][..],
        &["--seek", "5"],
        &["--bisect"],
        &["--trace", "t.json"],
        &[],
    ] {
        let mut args = vec!["replay", "missing.ron"];
        args.extend_from_slice(extra);
        let output = run(&args, dir.path());
        let said = text(&output);
        assert_eq!(code(&output), 2, "{args:?}: {said}");
        assert!(said.contains("cannot read missing.ron: "), "{said}");
        let cause = said.lines().next().unwrap().rsplit(": ").next().unwrap();
        assert_eq!(said.matches(cause).count(), 1, "{args:?}: {said}");
    }
}

#[test]
fn timedemo_of_a_diverging_scenario_exits_1_and_takes_one_file() {
    let dir = tempfile::tempdir().unwrap();
    diverging(dir.path());
    let output = run(&["replay", "diverging.ron", "--timedemo"], dir.path());
    let said = text(&output);
    assert_eq!(code(&output), 1, "{said}");
    assert!(said.contains("DIVERGED"), "{said}");

    let output = run(
        &["replay", "diverging.ron", "diverging.ron", "--timedemo"],
        dir.path(),
    );
    expect_exit(&output, 2, "take exactly one scenario FILE, got 2");
}

#[test]
fn timedemo_of_a_directory_says_it_takes_one_file() {
    let dir = tempfile::tempdir().unwrap();
    folder_and_recording(dir.path());
    for flag in [&["--timedemo"][..], &["--trace", "t.json"]] {
        let mut args = vec!["replay", "set"];
        args.extend_from_slice(flag);
        let output = run(&args, dir.path());
        expect_exit(
            &output,
            2,
            "--timedemo and --trace take exactly one scenario FILE, and set is a directory",
        );
        assert!(!dir.path().join("t.json").exists());
    }
}

#[test]
fn an_output_naming_a_scenario_or_the_other_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = recorded(dir.path(), "good.ron", "30");
    let original = std::fs::read(&good).unwrap();
    for args in [
        &["replay", "good.ron", "--trace", "good.ron"][..],
        &["replay", "good.ron", "--timedemo", "--json=./good.ron"],
        &["replay", ".", "--json=good.ron"],
        // Not this shard's file (the files sort as good.ron, second.ron): still an input.
        &["replay", ".", "--shard", "1/2", "--json=good.ron"],
    ] {
        if args.contains(&"--shard") {
            std::fs::copy(&good, dir.path().join("second.ron")).unwrap();
        }
        let output = run(args, dir.path());
        expect_exit(&output, 2, "good.ron: it is a file the run reads");
        assert_eq!(std::fs::read(&good).unwrap(), original, "{args:?}");
    }
    let output = run(
        &["replay", "good.ron", "--json=x.json", "--trace", "x.json"],
        dir.path(),
    );
    expect_exit(
        &output,
        2,
        "the JSON (--json) and the trace (--trace) name the same file, x.json",
    );
    assert!(!dir.path().join("x.json").exists());
}

/// Runs `game-demo` with its standard output appended to `log`.
#[cfg(unix)]
fn run_into_log(args: &[&str], dir: &Path, log: &Path) -> i32 {
    let log = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    let status = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .status()
        .expect("game-demo runs");
    status.code().expect("exited normally")
}

#[cfg(unix)]
#[test]
fn json_to_standard_output_through_a_link_is_added_to_its_log_not_written_over_it() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "60");
    std::os::unix::fs::symlink("/dev/stdout", dir.path().join("out.json")).unwrap();
    let log = dir.path().join("log.txt");
    for json in ["--json=/dev/stdout", "--json=out.json"] {
        std::fs::write(&log, "an earlier line\n").unwrap();
        let code = run_into_log(&["replay", "good.ron", json], dir.path(), &log);
        let logged = std::fs::read_to_string(&log).unwrap();
        assert_eq!(code, 0, "{json}: {logged}");
        assert!(logged.starts_with("an earlier line\n"), "{json}: {logged}");
        assert!(
            logged.contains("verified") && logged.contains("\"status\":\"verified\""),
            "{json}: {logged}"
        );
    }
}

/// `/dev/full` fails every write (Linux).
#[cfg(target_os = "linux")]
#[test]
fn json_that_cannot_be_written_at_the_end_still_shows_the_results() {
    let dir = tempfile::tempdir().unwrap();
    recorded(dir.path(), "good.ron", "60");
    for extra in [&[][..], &["--timedemo"]] {
        let mut args = vec!["replay", "good.ron", "--json=/dev/full"];
        args.extend_from_slice(extra);
        let output = run(&args, dir.path());
        let said = text(&output);
        expect_exit(&output, 2, "cannot write the JSON (--json) to /dev/full");
        assert!(said.contains("good.ron: verified"), "{args:?}: {said}");
    }
}

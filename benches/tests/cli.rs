//! `tickbus-bench` as a user runs it: bad arguments are refused before anything is measured,
//! output files are checked first and never left half-made, and a short run writes both.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// Runs `tickbus-bench` with `args`.
fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickbus-bench"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("tickbus-bench starts")
}

/// The smallest run: one point, one round of one frame.
const SHORT: [&str; 8] = [
    "--events-per-frame",
    "1000",
    "--event-bytes",
    "16",
    "--rounds",
    "1",
    "--frames",
    "1",
];

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickbus-bench-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// Asserts the run failed before measuring, with an error naming every one of `names`.
fn assert_refused(args: &[&str], names: &[&str]) {
    let output = bench(args);
    let message = stderr(&output);
    assert!(!output.status.success(), "{args:?} was accepted");
    assert!(
        stdout(&output).is_empty(),
        "{args:?} measured: {}",
        stdout(&output)
    );
    for name in names {
        assert!(
            message.contains(name),
            "{args:?}: {message} does not name {name}"
        );
    }
}

#[test]
fn counts_of_zero_are_refused_with_the_flag_and_the_range() {
    assert_refused(
        &["--events-per-frame", "1000,0"],
        &["--events-per-frame", "1..=10000000"],
    );
    for flag in [
        "--rounds",
        "--frames",
        "--threads",
        "--sample-ms",
        "--writers",
    ] {
        assert_refused(&[flag, "0"], &[flag, "0 is not in 1..="]);
    }
    assert_refused(
        &["--ingest", "--batch", "0"],
        &["--batch", "0 is not in 1..="],
    );
    assert_refused(&["--rounds", "-5"], &["--rounds", "-5"]);
}

#[test]
fn flags_of_the_other_sweep_are_refused_instead_of_ignored() {
    for flag in [
        ["--event-bytes", "64"],
        ["--writers", "2"],
        ["--readers", "2"],
        ["--threads", "2"],
    ] {
        assert_refused(&["--ingest", flag[0], flag[1]], &[flag[0], "--ingest"]);
    }
    assert_refused(&["--ingest", "--sequential"], &["--sequential", "--ingest"]);
    assert_refused(&["--producers", "2"], &["--producers", "--ingest"]);
    assert_refused(&["--batch", "64"], &["--batch", "--ingest"]);
    assert_refused(
        &["--also-offload-always", "--sequential"],
        &["--also-offload-always", "--sequential"],
    );
    assert_refused(
        &["--also-offload-always", "--roofline"],
        &["--also-offload-always", "--roofline"],
    );
}

#[test]
fn an_output_file_that_cannot_be_written_fails_before_measuring() {
    let dir = scratch("unwritable");
    let missing = text(&dir.join("no-such-dir").join("samples.json"));
    let mut args = SHORT.to_vec();
    args.extend(["--json", &missing]);
    assert_refused(&args, &["--json", &missing]);
    let message = stderr(&bench(&args));
    assert_eq!(
        message.matches("No such file or directory").count(),
        1,
        "the cause once: {message}"
    );

    let directory = text(&dir);
    let mut args = SHORT.to_vec();
    args.extend(["--plot", &directory]);
    assert_refused(&args, &["--plot", "ending in .svg"]);
}

#[test]
fn a_run_that_fails_leaves_no_new_file_and_keeps_an_old_one() {
    let dir = scratch("failed-run");
    let new_json = dir.join("new.json");
    let old_json = dir.join("old.json");
    std::fs::write(&old_json, "earlier results").unwrap();
    let missing_plot = text(&dir.join("no-such-dir").join("plot.svg"));
    for json in [&new_json, &old_json] {
        let mut args = SHORT.to_vec();
        let json = text(json);
        // The JSON file is opened first, then the plot's path fails.
        args.extend(["--json", &json, "--plot", &missing_plot]);
        assert_refused(&args, &["--plot", &missing_plot]);
    }
    assert!(!new_json.exists(), "an empty file was left behind");
    assert_eq!(
        std::fs::read_to_string(&old_json).unwrap(),
        "earlier results"
    );
}

#[test]
fn a_short_run_prints_the_table_and_writes_the_json_and_the_plot() {
    let dir = scratch("short-run");
    let (json, plot) = (dir.join("samples.json"), dir.join("plot.svg"));
    std::fs::write(
        &json,
        "an earlier, longer file that the new report must replace",
    )
    .unwrap();
    let mut args = SHORT.to_vec();
    let (json_arg, plot_arg) = (text(&json), text(&plot));
    args.extend(["--json", &json_arg, "--plot", &plot_arg]);
    let output = bench(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("| 1000 | 16 | tickbus_fold |"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("valid JSON");
    assert_eq!(report["points"][0]["events_per_frame"], 1000);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<circle"), "{svg}");
}

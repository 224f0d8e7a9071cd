//! `tickbus-bench` as a user runs it: bad arguments are refused before anything is measured,
//! output files are checked first and never left half-made, and a short run writes both.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

/// Runs `tickbus-bench` with `args`; kills it and fails after two minutes (every run here
/// is short, or refused before measuring).
fn bench(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickbus-bench"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tickbus-bench starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("tickbus-bench runs").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tickbus-bench {args:?} still ran after two minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("tickbus-bench's output")
}

/// The smallest run: one point, one round of one frame (added to every refused case, so that
/// a refusal that stops working costs a short run, not a full sweep).
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

/// A long run: a refusal of its output files must come before it measures.
const LONG: [&str; 8] = [
    "--events-per-frame",
    "1000",
    "--event-bytes",
    "16",
    "--rounds",
    "10000",
    "--frames",
    "100",
];

/// A fresh directory for one test's files (removed by the test at its end).
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickbus-bench-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts that `dir` holds `entries` entries (`why`), then removes it.
fn assert_entries_then_remove(dir: &Path, entries: usize, why: &str) {
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), entries, "{why}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn text(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// Asserts the run failed before measuring, with an error naming every one of `names`.
fn assert_refused(args: &[&str], names: &[&str]) {
    let output = bench(args);
    assert_refused_output(&output, args, names);
}

/// The same for a short run with `args` (`--event-bytes 16` left out with `--ingest`).
fn assert_short_run_refused(args: &[&str], names: &[&str]) {
    let mut all: Vec<&str> = args.to_vec();
    let short = if args.contains(&"--ingest") {
        &[
            "--events-per-frame",
            "1000",
            "--rounds",
            "1",
            "--frames",
            "1",
        ][..]
    } else {
        &SHORT[..]
    };
    for pair in short.chunks(2) {
        if !args.contains(&pair[0]) {
            all.extend(pair);
        }
    }
    assert_refused(&all, names);
}

fn assert_refused_output(output: &Output, args: &[&str], names: &[&str]) {
    let message = stderr(output);
    assert!(!output.status.success(), "{args:?} was accepted");
    assert!(
        stdout(output).is_empty(),
        "{args:?} measured: {}",
        stdout(output)
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
    assert_short_run_refused(
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
        assert_short_run_refused(&[flag, "0"], &[flag, "0 is not in 1..="]);
    }
    assert_short_run_refused(
        &["--ingest", "--batch", "0"],
        &["--batch", "0 is not in 1..="],
    );
    assert_short_run_refused(&["--rounds", "-5"], &["--rounds", "-5"]);
    assert_short_run_refused(&["--event-bytes", "-1"], &["--event-bytes", "-1"]);
}

#[test]
fn frames_too_large_for_memory_or_samples_of_hours_are_refused() {
    assert_short_run_refused(
        &["--events-per-frame", "3000000", "--event-bytes", "64"],
        &["--events-per-frame 3000000", "2500000 events of 64 bytes"],
    );
    assert_short_run_refused(
        &["--events-per-frame", "1000000", "--frames", "5000"],
        &["--frames 5000", "--frames 1000 or fewer"],
    );
}

#[test]
fn flags_of_the_other_sweep_are_refused_instead_of_ignored() {
    for flag in [
        ["--event-bytes", "64"],
        ["--writers", "2"],
        ["--readers", "2"],
        ["--threads", "2"],
    ] {
        assert_short_run_refused(&["--ingest", flag[0], flag[1]], &[flag[0], "--ingest"]);
    }
    for (args, names) in [
        (
            &["--ingest", "--sequential"][..],
            &["--sequential", "--ingest"][..],
        ),
        (&["--producers", "2"], &["--producers", "--ingest"]),
        (&["--batch", "64"], &["--batch", "--ingest"]),
        (
            &["--also-offload-always", "--sequential"],
            &["--also-offload-always", "--sequential"],
        ),
        (
            &["--also-offload-always", "--roofline"],
            &["--also-offload-always", "--roofline"],
        ),
        (
            &["--also-offload-always", "--threads", "1"],
            &["--also-offload-always", "--threads 2"],
        ),
    ] {
        assert_short_run_refused(args, names);
    }
}

#[test]
fn an_output_file_that_cannot_be_written_fails_before_measuring() {
    let dir = scratch("unwritable");
    let missing = text(&dir.join("no-such-dir").join("samples.json"));
    let directory_svg = dir.join("plots.svg");
    std::fs::create_dir(&directory_svg).unwrap();
    let directory_svg = text(&directory_svg);
    let same = text(&dir.join("both.svg"));
    let same_again = text(&dir.join(".").join("both.svg"));
    let cases = [
        (
            vec!["--json", &missing],
            vec!["--json", &missing, "No such file"],
        ),
        (vec!["--plot", &directory_svg], vec!["--plot", "directory"]),
        (vec!["--plot", "plot.png"], vec!["--plot", "plot.svg"]),
        (
            vec!["--json", &same, "--plot", &same_again],
            vec!["--json", "--plot", "the same file"],
        ),
    ];
    for (outputs, names) in cases {
        // Were the files opened after measuring, this run would take hours.
        let mut args = LONG.to_vec();
        args.extend(outputs);
        let output = bench(&args);
        assert_refused_output(&output, &args, &names);
        let message = stderr(&output);
        assert_eq!(
            message.lines().count(),
            1,
            "one line, no cause twice: {message}"
        );
    }
    assert_entries_then_remove(&dir, 1, "only the directory made here");
}

#[test]
fn a_refused_sweep_is_reported_before_its_output_files_are_opened() {
    let dir = scratch("refused-sweep");
    let missing = text(&dir.join("no-such-dir").join("samples.json"));
    let json = text(&dir.join("samples.json"));
    for output in [&missing, &json] {
        let mut args = SHORT.to_vec();
        args.extend(["--roofline", "--writers", "2", "--json", output]);
        let said = bench(&args);
        assert_refused_output(&said, &args, &["--roofline", "--writers 1"]);
        assert!(
            !stderr(&said).contains("samples.json"),
            "the sweep's error comes first: {}",
            stderr(&said)
        );
    }
    // Also true when a file was created and removed again: the error above is what tells.
    assert_entries_then_remove(&dir, 0, "no file was left behind");
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
    std::fs::remove_dir_all(&dir).unwrap();
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
    assert!(
        svg.starts_with("<svg") && svg.contains("tickbus_fold"),
        "{svg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `/dev/full` fails every write (Linux).
#[cfg(target_os = "linux")]
#[test]
fn a_json_file_that_cannot_be_written_does_not_keep_the_plot_from_being_written() {
    let dir = scratch("json-fails");
    let plot = dir.join("plot.svg");
    let mut args = SHORT.to_vec();
    let plot_arg = text(&plot);
    args.extend(["--json", "/dev/full", "--plot", &plot_arg]);
    let output = bench(&args);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("/dev/full"), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("tickbus_fold"),
        "the table is printed"
    );
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
    std::fs::remove_dir_all(&dir).unwrap();
}

//! Saving is atomic: a process killed while saving a large scenario (at random moments, and
//! the moment a file is seen half written) always leaves the old file or the new one; a save that fails (a full disk, simulated with a
//! file-size limit; a missing or unwritable directory; a directory at the path) leaves the
//! old file untouched, no temporary file, and the scenario in memory for a retry.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::Duration,
};

use glam::Vec2;
use rand_core::Rng;
use rand_pcg::Pcg32;
use tickbus::replay::{Recorder, Scenario, ScenarioError};
use tickbus_tests::{
    blob::{Blob, large_scenario},
    particles::{ParticleInput, Particles},
};

#[cfg(unix)]
const SAVE_LOOP: &str = env!("CARGO_BIN_EXE_save_loop");

/// Large enough that writing it takes a while; small enough that serializing it (slow in a
/// debug build) does not dominate the test's time.
#[cfg(unix)]
const LARGE: usize = 2 * 1024 * 1024;

fn temp_dir(test: &str) -> PathBuf {
    tickbus_tests::fresh_temp_dir(&format!("save-{test}"))
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
fn texts() -> [String; 2] {
    [0, 1].map(|variant| large_scenario(variant, LARGE).to_ron().unwrap())
}

/// Removes what a killed save left beside `target`, checking that it is only temporary
/// files (which are never read).
#[cfg(unix)]
fn remove_temporary_files(dir: &Path, target: &str) {
    for name in names_in(dir).into_iter().filter(|name| name != target) {
        let temporary = name.starts_with(&format!(".{target}.")) && name.ends_with(".tmp");
        assert!(temporary, "unexpected file {name}");
        std::fs::remove_file(dir.join(name)).unwrap();
    }
}

/// Returns as soon as a file in `dir` is longer than 0 and shorter than `full` bytes (a write
/// in progress), or after two seconds.
#[cfg(unix)]
fn wait_for_a_partial_file(dir: &Path, full: usize) {
    for _ in 0..40_000 {
        let partial = std::fs::read_dir(dir).unwrap().any(|entry| {
            let len = entry
                .and_then(|entry| entry.metadata())
                .map_or(0, |m| m.len());
            len > 0 && len < full as u64
        });
        if partial {
            return;
        }
        thread::sleep(Duration::from_micros(50));
    }
}

#[cfg(unix)]
#[test]
fn a_kill_while_saving_leaves_the_old_file_or_the_new_one() {
    const KILLS: usize = 12;
    let dir = temp_dir("kill");
    let path = dir.join("large.ron");
    let texts = texts();
    std::fs::write(&path, &texts[0]).unwrap();
    let mut rng = Pcg32::new(0x5eed, 0x6b11);
    for kill in 0..KILLS {
        let mut child = Command::new(SAVE_LOOP)
            .arg(&path)
            .arg(LARGE.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the save loop starts");
        let mut started = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut started).unwrap();
        assert_eq!(started.trim(), "saving");
        if kill % 4 == 3 {
            // Anywhere in the first two or three saves (renames and flushes included).
            thread::sleep(Duration::from_micros(u64::from(rng.next_u32() % 1_500_000)));
        } else {
            // The moment that matters most: some file in the directory is half written.
            wait_for_a_partial_file(&dir, texts[0].len());
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        let on_disk = std::fs::read(&path).expect("the file is still there");
        assert!(
            on_disk == texts[0].as_bytes() || on_disk == texts[1].as_bytes(),
            "kill {kill}: the file is torn ({} bytes)",
            on_disk.len()
        );
        remove_temporary_files(&dir, "large.ron");
    }
    let scenario = Scenario::load::<Blob>(&path).expect("the survivor loads");
    assert_eq!(scenario.game, "blob");
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_disk_that_fills_up_mid_save_loses_nothing() {
    let dir = temp_dir("full");
    let path = dir.join("large.ron");
    let texts = texts();
    std::fs::write(&path, &texts[0]).unwrap();
    // 1 MiB of file size (in 512-byte blocks for sh, 1 KiB for bash: either is far below the
    // 8 MiB the save needs). The signal is ignored so the write fails with EFBIG instead.
    let script = format!(
        "trap '' XFSZ; ulimit -f 2048 && exec '{SAVE_LOOP}' --once '{}' {LARGE}",
        path.display()
    );
    let output = Command::new("sh").arg("-c").arg(script).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(3),
        "the save must fail: {stderr}"
    );
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(
        std::fs::read(&path).unwrap() == texts[0].as_bytes(),
        "the previous file must be intact"
    );
    assert_eq!(names_in(&dir), ["large.ron"], "no temporary file is left");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A recording whose save fails keeps everything: the same save succeeds once the path is
/// fixed.
fn assert_save_fails_then_succeeds(bad: &Path, good: &Path) {
    let mut recorder = Recorder::<Particles>::builder(Default::default())
        .checkpoint_every(5)
        .build()
        .unwrap();
    recorder
        .input()
        .send(ParticleInput::Wind(Vec2::ONE))
        .unwrap();
    recorder.run_ticks(20).unwrap();
    let error = recorder.scenario().save(bad).unwrap_err();
    assert!(matches!(error, ScenarioError::Write { .. }), "{error}");
    assert!(
        error.to_string().contains(&bad.display().to_string()),
        "{error}"
    );
    recorder.scenario().save(good).expect("the retry succeeds");
    let saved = Scenario::load::<Particles>(good).unwrap();
    assert_eq!(saved, recorder.scenario());
    assert_eq!(saved.inputs.len(), 1);
}

#[test]
fn saving_into_a_missing_directory_is_an_error_and_can_be_retried() {
    let dir = temp_dir("missing");
    assert_save_fails_then_succeeds(&dir.join("no/such/dir/run.ron"), &dir.join("run.ron"));
    assert_eq!(names_in(&dir), ["run.ron"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn saving_over_a_directory_is_an_error_and_leaves_it_alone() {
    let dir = temp_dir("directory");
    let occupied = dir.join("run.ron");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("inside"), "kept").unwrap();
    assert_save_fails_then_succeeds(&occupied, &dir.join("retry.ron"));
    assert_eq!(
        std::fs::read_to_string(occupied.join("inside")).unwrap(),
        "kept"
    );
    assert_eq!(
        names_in(&dir),
        ["retry.ron", "run.ron"],
        "no temporary file"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn saving_where_nothing_can_be_written_is_an_error() {
    let dir = temp_dir("unwritable");
    // Not even root may create files in /proc.
    assert_save_fails_then_succeeds(Path::new("/proc/tickbus-run.ron"), &dir.join("run.ron"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_save_keeps_the_permissions_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("permissions");
    let path = dir.join("run.ron");
    large_scenario(0, 16).save(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    large_scenario(1, 16).save(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(
        Scenario::load::<Blob>(&path).unwrap(),
        large_scenario(1, 16)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_name_of_244_bytes_saves_and_leaves_no_temporary_file() {
    let dir = temp_dir("long-name");
    let name = format!("{}.ron", "x".repeat(240));
    let path = dir.join(&name);
    std::fs::write(&path, "old").expect("a valid name");
    large_scenario(1, 16)
        .save(&path)
        .expect("the temporary name fits too");
    assert_eq!(
        Scenario::load::<Blob>(&path).unwrap(),
        large_scenario(1, 16)
    );
    assert_eq!(names_in(&dir), [name]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_save_through_symbolic_links_replaces_the_file_they_lead_to() {
    let dir = temp_dir("symlink");
    std::fs::create_dir(dir.join("real")).unwrap();
    let target = dir.join("real/run.ron");
    large_scenario(0, 16).save(&target).unwrap();
    // link -> hop -> real/run.ron, both relative.
    std::os::unix::fs::symlink("real/run.ron", dir.join("hop.ron")).unwrap();
    std::os::unix::fs::symlink("hop.ron", dir.join("link.ron")).unwrap();
    large_scenario(1, 16).save(dir.join("link.ron")).unwrap();
    for link in ["link.ron", "hop.ron"] {
        let kind = std::fs::symlink_metadata(dir.join(link))
            .unwrap()
            .file_type();
        assert!(kind.is_symlink(), "{link} is still a link");
    }
    assert_eq!(
        Scenario::load::<Blob>(&target).unwrap(),
        large_scenario(1, 16)
    );
    assert_eq!(
        names_in(&dir.join("real")),
        ["run.ron"],
        "no temporary file"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_read_only_file_is_refused_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("read-only");
    let path = dir.join("run.ron");
    large_scenario(0, 16).save(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let error = large_scenario(1, 16).save(&path).unwrap_err();
    match &error {
        ScenarioError::Write { source, .. } => {
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied,
                "{error}"
            );
        }
        other => panic!("expected a write error, got {other}"),
    }
    assert!(error.to_string().contains("read-only"), "{error}");
    assert_eq!(
        Scenario::load::<Blob>(&path).unwrap(),
        large_scenario(0, 16),
        "the old file is kept"
    );
    assert_eq!(names_in(&dir), ["run.ron"], "no temporary file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

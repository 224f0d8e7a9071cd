//! `game-demo play` in a pseudo-terminal, driven like a player: a key must turn the ship
//! within seconds (only the keyboard path can do that), firing must score, `q` quits with
//! status 0 and the terminal is handed back (alternate screen left, cursor shown, and the
//! pty's own settings out of raw mode). A terminal that hangs up ends the game at once, and
//! the recording is written all the same.

use std::{
    fs::File,
    io::Read,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use nix::{
    fcntl::OFlag,
    pty::posix_openpt,
    sys::termios::{LocalFlags, tcgetattr},
};
use rexpect::{
    error::Error,
    process::{PtyProcess, wait::WaitStatus},
    session::{PtySession, spawn_command},
};

const BIN: &str = env!("CARGO_BIN_EXE_game-demo");
/// How long the whole game may take to score (generous: the machine may be busy).
const SCORE_DEADLINE: Duration = Duration::from_secs(90);
/// How long a turn key may take to show (seconds of game time, with room for a busy
/// machine; nothing but a key turns the ship).
const TURN_DEADLINE: Duration = Duration::from_secs(15);
/// How long a game may take to end once its terminal hung up.
const HANGUP_DEADLINE: Duration = Duration::from_secs(20);
/// Each wait for output lasts this long before the test sends more keys.
const POLL_MS: u64 = 250;
/// The ship's glyphs when it faces a diagonal: the status line's key legend uses only the
/// straight arrows, so one of these on screen is the ship, turned.
const TURNED_SHIP: [&str; 4] = ["↗", "↘", "↙", "↖"];

/// `game-demo ARGS` in the pty with echo on, as a shell leaves a terminal (rexpect turns
/// echo off before it starts the command), so the settings after the game show whether it
/// restored them.
fn game_in_shell_terminal(args: &str) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", &format!("stty echo; exec \"$0\" {args}"), BIN]);
    command
}

#[test]
fn keys_play_the_game_q_quits_and_the_terminal_is_restored() -> Result<(), Error> {
    let command = game_in_shell_terminal("play --seed 3");
    let mut session = spawn_command(command, Some(POLL_MS))?;

    // The first frame: the score line at 0.
    wait_for(&mut session, r"SCORE +0 ", Duration::from_secs(30), |_| {
        Ok(())
    })?;
    // The ship starts facing up; `d` turns it right.
    let turned = TURNED_SHIP.map(as_read).join("|");
    wait_for(&mut session, &turned, TURN_DEADLINE, |session| {
        session.send("d")?;
        session.flush()
    })?;
    // Spin and fire until a rock is hit: the score line shows points.
    wait_for(
        &mut session,
        r"SCORE +[1-9][0-9]* ",
        SCORE_DEADLINE,
        |session| {
            session.send(" d ")?;
            session.flush()
        },
    )?;

    session.send("q")?;
    session.flush()?;
    let rest = session.exp_eof()?;
    assert!(
        rest.contains("\u{1b}[?1049l"),
        "the alternate screen was left"
    );
    assert!(rest.contains("\u{1b}[?25h"), "the cursor was shown again");
    assert!(
        rest.contains("score "),
        "the final score is printed: {rest:?}"
    );
    match session.process.wait() {
        Ok(WaitStatus::Exited(_, 0)) => {}
        other => panic!("game-demo did not exit with 0: {other:?}"),
    }
    let settings = tcgetattr(&session.process.pty)?.local_flags;
    for (flag, name) in [
        (LocalFlags::ICANON, "line editing (ICANON)"),
        (LocalFlags::ECHO, "echo (ECHO)"),
        (LocalFlags::ISIG, "signal keys (ISIG)"),
    ] {
        assert!(
            settings.contains(flag),
            "raw mode is still on after the game: {name} is off ({settings:?})"
        );
    }
    Ok(())
}

#[test]
fn a_terminal_that_hangs_up_ends_the_game_and_the_recording_is_written() -> Result<(), Error> {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("hangup.ron");
    let mut command = Command::new(BIN);
    command
        .args(["play", "--seed", "3", "--record"])
        .arg(&recording);
    let mut process = PtyProcess::new(command)?;

    let mut screen = process.get_file_handle()?;
    read_until(&mut screen, "SCORE", Duration::from_secs(30));
    // Close every handle on the pty's master side, as a terminal window or a tmux session
    // does when it goes away: the game's terminal hangs up (SIGHUP, then end-of-file).
    drop(screen);
    drop(std::mem::replace(
        &mut process.pty,
        posix_openpt(OFlag::O_RDWR)?,
    ));

    let status = wait_within(&mut process, HANGUP_DEADLINE);
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "the game ends as if quit: {status:?}"
    );
    assert!(recording.exists(), "the recording was written");
    assert_replays(&recording);
    Ok(())
}

#[test]
fn a_recording_that_cannot_be_written_at_the_end_is_saved_elsewhere() -> Result<(), Error> {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("going");
    std::fs::create_dir(&folder).unwrap();
    let recording = folder.join("game.ron");
    let mut command = Command::new(BIN);
    command
        .args(["play", "--seed", "5", "--record"])
        .arg(&recording);
    let mut session = spawn_command(command, Some(POLL_MS))?;
    wait_for(&mut session, r"SCORE", Duration::from_secs(30), |_| Ok(()))?;

    // The folder was fine when the game started and is gone when it ends.
    std::fs::remove_dir(&folder).unwrap();
    session.send("q")?;
    session.flush()?;
    let said = session.exp_eof()?;
    match session.process.wait() {
        Ok(WaitStatus::Exited(_, 1)) => {}
        other => panic!("a recording not where asked is an error: {other:?}; {said}"),
    }
    let wanted = recording.display().to_string();
    assert!(said.contains(&format!("cannot write {wanted}")), "{said}");
    let fallback = said
        .split("the recording was saved to ")
        .nth(1)
        .and_then(|rest| rest.split(" instead").next())
        .unwrap_or_else(|| panic!("names where the recording went: {said}"));
    let fallback = Path::new(fallback);
    assert!(fallback.exists(), "{said}");
    assert_replays(fallback);
    std::fs::remove_file(fallback).unwrap();
    Ok(())
}

/// Waits for `pattern` in the output until `deadline`, calling `between` after each poll
/// that did not find it (to send keys).
fn wait_for(
    session: &mut PtySession,
    pattern: &str,
    deadline: Duration,
    mut between: impl FnMut(&mut PtySession) -> Result<(), Error>,
) -> Result<(), Error> {
    let start = Instant::now();
    loop {
        match session.exp_regex(pattern) {
            Ok(_) => return Ok(()),
            Err(Error::Timeout { .. }) if start.elapsed() < deadline => between(session)?,
            Err(error) => return Err(error),
        }
    }
}

/// `text` as rexpect's reader has it: one `char` per byte of the pty's output, so UTF-8
/// is matched byte by byte.
fn as_read(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// Reads the pty until `needle` has been written, failing after `deadline`. (No reader
/// thread: the test must be able to close every handle on the master side afterwards.)
fn read_until(screen: &mut File, needle: &str, deadline: Duration) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let start = Instant::now();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(needle) {
        assert!(
            start.elapsed() < deadline,
            "no {needle:?} on screen: {:?}",
            String::from_utf8_lossy(&seen)
        );
        let mut fds = [PollFd::new(&*screen, PollFlags::IN)];
        let tenth = Timespec::try_from(Duration::from_millis(100)).unwrap();
        if poll(&mut fds, Some(&tenth)).unwrap() > 0 {
            let mut chunk = [0; 4096];
            let read = screen.read(&mut chunk).expect("the pty reads");
            seen.extend_from_slice(&chunk[..read]);
        }
    }
}

/// The process's exit status, or a failure (after killing it) if it runs past `deadline`.
fn wait_within(process: &mut PtyProcess, deadline: Duration) -> WaitStatus {
    let start = Instant::now();
    loop {
        match process.status() {
            Some(WaitStatus::StillAlive) if start.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Some(WaitStatus::StillAlive) => {
                let _ = process.signal(rexpect::process::signal::SIGKILL);
                panic!("game-demo still runs {deadline:?} after its terminal hung up");
            }
            Some(status) => return status,
            None => panic!("game-demo's status is unknown"),
        }
    }
}

/// `game-demo replay FILE` verifies it.
fn assert_replays(file: &Path) {
    let output = Command::new(BIN)
        .arg("replay")
        .arg(file)
        .output()
        .expect("game-demo runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(said.contains(": verified"), "{said}");
}

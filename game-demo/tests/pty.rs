//! `game-demo play` in a pseudo-terminal, driven like a player: keys go in, the score line
//! must change, `q` quits with status 0 and the terminal is handed back (alternate screen
//! left, cursor shown, raw mode off).

use std::{
    process::Command,
    time::{Duration, Instant},
};

use rexpect::{error::Error, process::wait::WaitStatus, session::spawn_command};

/// How long the whole game may take to score (generous: the machine may be busy).
const SCORE_DEADLINE: Duration = Duration::from_secs(90);
/// Each wait for output lasts this long before the test sends more keys.
const POLL_MS: u64 = 250;

#[test]
fn keys_play_the_game_q_quits_and_the_terminal_is_restored() -> Result<(), Error> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_game-demo"));
    command.args(["play", "--seed", "3"]);
    let mut session = spawn_command(command, Some(POLL_MS))?;

    // The first frame: the score line at 0.
    wait_for(&mut session, r"SCORE +0 ", Duration::from_secs(30), |_| {
        Ok(())
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
    Ok(())
}

/// Waits for `pattern` in the output until `deadline`, calling `between` after each poll
/// that did not find it (to send keys).
fn wait_for(
    session: &mut rexpect::session::PtySession,
    pattern: &str,
    deadline: Duration,
    mut between: impl FnMut(&mut rexpect::session::PtySession) -> Result<(), Error>,
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

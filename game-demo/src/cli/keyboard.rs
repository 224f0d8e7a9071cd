//! The keyboard thread: reads the terminal's key events and sends game commands through
//! the engine's input source (so they are collected, and recorded, at the start of a tick)
//! and everything else (pause, speed, quit) to the loop.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use game_demo::game::{Command, Control};
use tickbus::EventSender;

/// What the loop (not the simulation) does with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopKey {
    /// Leave the game.
    Quit,
    /// Pause or resume.
    Pause,
    /// Run one tick while paused.
    Step,
    /// Double the time scale.
    Faster,
    /// Halve the time scale.
    Slower,
    /// The terminal changed size.
    Resized,
    /// `r` held (true, also its repeats) or let go (false): see `rewind`.
    Rewind(bool),
}

/// Where a key goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// To the simulation, through the recorded input source.
    Game(Command),
    /// To the loop.
    Loop(LoopKey),
}

/// The action of a key event. With release reports a press holds a control
/// ([`Command::Down`]) until its release ([`Command::Up`]); without, every press or
/// auto-repeat is a [`Command::Tap`].
pub fn action_for(key: &KeyEvent, reports_releases: bool) -> Option<Action> {
    let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
        && matches!(key.code, KeyCode::Char('c' | 'C'));
    if ctrl_c {
        return Some(Action::Loop(LoopKey::Quit));
    }
    if let Some(control) = control_for(key.code) {
        return match (key.kind, reports_releases) {
            (KeyEventKind::Release, true) => Some(Action::Game(Command::Up(control))),
            (KeyEventKind::Press, true) => Some(Action::Game(Command::Down(control))),
            (KeyEventKind::Repeat, true) | (KeyEventKind::Release, false) => None,
            (_, false) => Some(Action::Game(Command::Tap(control))),
        };
    }
    if matches!(key.code, KeyCode::Char('r' | 'R')) {
        return super::rewind::key_action(key.kind);
    }
    if key.kind == KeyEventKind::Release {
        return None;
    }
    other_key(key.code)
}

fn control_for(code: KeyCode) -> Option<Control> {
    Some(match code {
        KeyCode::Left | KeyCode::Char('a' | 'A') => Control::Left,
        KeyCode::Right | KeyCode::Char('d' | 'D') => Control::Right,
        KeyCode::Up | KeyCode::Char('w' | 'W') => Control::Thrust,
        KeyCode::Char(' ') => Control::Fire,
        _ => return None,
    })
}

fn other_key(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Down | KeyCode::Char('s' | 'S') => Action::Game(Command::Hyperspace),
        KeyCode::Enter => Action::Game(Command::Restart),
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Action::Loop(LoopKey::Quit),
        KeyCode::Char('p' | 'P') => Action::Loop(LoopKey::Pause),
        KeyCode::Char('.') => Action::Loop(LoopKey::Step),
        KeyCode::Char('+' | '=') => Action::Loop(LoopKey::Faster),
        KeyCode::Char('-' | '_') => Action::Loop(LoopKey::Slower),
        _ => return None,
    })
}

/// How long the keyboard thread waits for a key before it looks at `stop` again.
const POLL: Duration = Duration::from_millis(50);

/// Starts the keyboard thread. It stops when `stop` is set (checked every [`POLL`]), when
/// the loop is gone, or when the terminal cannot be read or hung up (then it sends
/// [`LoopKey::Quit`]).
pub fn spawn(
    input: EventSender<Command>,
    keys: mpsc::Sender<LoopKey>,
    stop: Arc<AtomicBool>,
    reports_releases: bool,
) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name("keyboard".to_owned())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let delivered = next_actions(reports_releases).map(|actions| {
                    actions
                        .into_iter()
                        .all(|action| deliver(action, &input, &keys))
                });
                match delivered {
                    Ok(true) => {}
                    Ok(false) => return, // the engine or the loop is gone
                    Err(_) => {
                        let _ = keys.send(LoopKey::Quit);
                        return;
                    }
                }
            }
        })
        .expect("the keyboard thread starts")
}

/// Waits up to `grace` for the keyboard thread to end. One that does not (a read of a
/// terminal that went away can block or spin inside crossterm) is left behind: it ends
/// with the process, and the game must not wait for it.
pub fn finish(keyboard: thread::JoinHandle<()>, grace: Duration) {
    let deadline = Instant::now() + grace;
    while !keyboard.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    if keyboard.is_finished() {
        let _ = keyboard.join();
    }
}

/// Sends `action` where it goes; false when the receiver is gone.
fn deliver(action: Action, input: &EventSender<Command>, keys: &mpsc::Sender<LoopKey>) -> bool {
    match action {
        Action::Game(command) => input.send(command).is_ok(),
        Action::Loop(key) => keys.send(key).is_ok(),
    }
}

/// The actions of the key events that arrive within [`POLL`] (none on a timeout). An error
/// when the terminal hung up or was closed.
fn next_actions(reports_releases: bool) -> io::Result<Vec<Action>> {
    // After a timeout too: crossterm may hold events of an earlier read, or a resize.
    let mut wait = match wait_for_input(POLL)? {
        Readiness::Timeout | Readiness::Readable => Duration::ZERO,
        Readiness::Unknown => POLL,
    };
    let mut actions = Vec::new();
    // Everything crossterm has read or can read now: it buffers several events per read.
    while event::poll(wait)? {
        wait = Duration::ZERO;
        let action = match event::read()? {
            Event::Key(key) => action_for(&key, reports_releases),
            Event::Resize(..) => Some(Action::Loop(LoopKey::Resized)),
            _ => None,
        };
        actions.extend(action);
    }
    Ok(actions)
}

/// What the terminal has for the keyboard thread.
enum Readiness {
    /// Nothing arrived in time.
    Timeout,
    /// Bytes to read.
    Readable,
    /// The terminal cannot be polled (macOS refuses `poll` on terminals): crossterm waits.
    Unknown,
}

/// Waits up to `timeout` for input on stdin (the terminal crossterm reads). A terminal
/// that hung up is an error here: crossterm would read end-of-file from it for ever
/// without returning, so it must not be asked.
fn wait_for_input(timeout: Duration) -> io::Result<Readiness> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = Timespec::try_from(timeout).map_err(io::Error::other)?;
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) => Ok(Readiness::Timeout),
        Ok(_) => {
            let revents = fds[0].revents();
            if revents.intersects(PollFlags::HUP | PollFlags::ERR) {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the terminal hung up",
                ))
            } else if revents.contains(PollFlags::NVAL) {
                Ok(Readiness::Unknown)
            } else {
                Ok(Readiness::Readable)
            }
        }
        Err(rustix::io::Errno::INTR) => Ok(Readiness::Timeout),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, kind: KeyEventKind) -> KeyEvent {
        KeyEvent::new_with_kind(code, KeyModifiers::NONE, kind)
    }

    #[test]
    fn presses_are_taps_without_release_reports() {
        let press = key(KeyCode::Left, KeyEventKind::Press);
        assert_eq!(
            action_for(&press, false),
            Some(Action::Game(Command::Tap(Control::Left)))
        );
        let release = key(KeyCode::Left, KeyEventKind::Release);
        assert_eq!(action_for(&release, false), None);
    }

    #[test]
    fn presses_and_releases_hold_exactly_with_release_reports() {
        let press = key(KeyCode::Char(' '), KeyEventKind::Press);
        let repeat = key(KeyCode::Char(' '), KeyEventKind::Repeat);
        let release = key(KeyCode::Char(' '), KeyEventKind::Release);
        assert_eq!(
            action_for(&press, true),
            Some(Action::Game(Command::Down(Control::Fire)))
        );
        assert_eq!(action_for(&repeat, true), None);
        assert_eq!(
            action_for(&release, true),
            Some(Action::Game(Command::Up(Control::Fire)))
        );
    }

    #[test]
    fn ctrl_c_q_and_esc_quit() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for quit in [
            ctrl_c,
            KeyEvent::from(KeyCode::Char('q')),
            KeyEvent::from(KeyCode::Esc),
        ] {
            assert_eq!(action_for(&quit, false), Some(Action::Loop(LoopKey::Quit)));
        }
    }
}

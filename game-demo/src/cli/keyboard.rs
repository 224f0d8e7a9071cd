//! The keyboard thread: reads the terminal's key events and sends game commands through
//! the engine's input source (so they are collected, and recorded, at the start of a tick)
//! and everything else (pause, speed, quit) to the loop.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::Duration,
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

/// Starts the keyboard thread. It stops when `stop` is set (checked every 50 ms), when
/// the loop is gone, or when the terminal cannot be read.
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
                match next_action(reports_releases) {
                    Ok(None) => {}
                    Ok(Some(Action::Game(command))) => {
                        if input.send(command).is_err() {
                            return; // the engine is gone
                        }
                    }
                    Ok(Some(Action::Loop(key))) => {
                        if keys.send(key).is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = keys.send(LoopKey::Quit);
                        return;
                    }
                }
            }
        })
        .expect("the keyboard thread starts")
}

fn next_action(reports_releases: bool) -> std::io::Result<Option<Action>> {
    if !event::poll(Duration::from_millis(50))? {
        return Ok(None);
    }
    Ok(match event::read()? {
        Event::Key(key) => action_for(&key, reports_releases),
        Event::Resize(..) => Some(Action::Loop(LoopKey::Resized)),
        _ => None,
    })
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

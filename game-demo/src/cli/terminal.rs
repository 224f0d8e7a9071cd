//! The terminal for the game: raw mode, the alternate screen, a hidden cursor, and key
//! release reports where the terminal has them. Whatever ends the game (quitting, an error,
//! a panic, a signal) leaves the terminal as it was found.

use std::{
    io::{self, Write},
    sync::{
        Once,
        atomic::{AtomicBool, Ordering},
    },
};

use crossterm::{
    cursor,
    event::{KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags},
    execute, style,
    terminal::{self, EnterAlternateScreen, LeaveAlternateScreen},
};

/// True while the terminal is in game mode (so restoring twice does nothing).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// True while key release reports are switched on.
static ENHANCED: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// The terminal in game mode; dropping it restores the terminal.
pub struct GameTerminal {
    reports_releases: bool,
}

impl GameTerminal {
    /// Switches to game mode: raw, alternate screen, cursor hidden; key releases reported
    /// if the terminal supports it (kitty's keyboard protocol).
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        execute!(
            out,
            EnterAlternateScreen,
            cursor::Hide,
            terminal::Clear(terminal::ClearType::All)
        )?;
        let reports_releases = terminal::supports_keyboard_enhancement().unwrap_or(false);
        if reports_releases {
            let flags = KeyboardEnhancementFlags::REPORT_EVENT_TYPES
                | KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES;
            execute!(out, PushKeyboardEnhancementFlags(flags))?;
            ENHANCED.store(true, Ordering::SeqCst);
        }
        Ok(Self { reports_releases })
    }

    /// True when the terminal reports key releases (so keys can be held exactly).
    pub fn reports_releases(&self) -> bool {
        self.reports_releases
    }
}

impl Drop for GameTerminal {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves game mode if the terminal is in it: key reports back to normal, colours reset,
/// cursor shown, alternate screen left, raw mode off. Safe to call more than once and from
/// the panic hook.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(out, style::ResetColor, cursor::Show, LeaveAlternateScreen);
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

/// A panic restores the terminal first, so its message is readable on the normal screen.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

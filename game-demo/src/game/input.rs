//! The recorded input: what the keyboard thread (or the bot) sends through the engine's
//! input source. Every command is collected at the start of a tick and stamped with it in a
//! recording, so a replay applies it in the same tick.

use serde::{Deserialize, Serialize};

/// A control of the ship that can be held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Control {
    /// Turn anticlockwise.
    Left,
    /// Turn clockwise.
    Right,
    /// Accelerate forwards.
    Thrust,
    /// Fire (held: fire again whenever the gun is ready).
    Fire,
}

impl Control {
    /// Every control, in the order of [`Controls`](super::Controls)' array.
    pub const ALL: [Control; 4] = [
        Control::Left,
        Control::Right,
        Control::Thrust,
        Control::Fire,
    ];

    /// The control's index in [`Control::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One recorded command.
///
/// Terminals without key-release reports send only presses (repeated while a key is held):
/// [`Tap`](Command::Tap) holds a control for [`TAP_TICKS`] ticks, and the key's auto-repeat
/// keeps it held. Terminals that report releases, and the bot, send exact key-state changes
/// with [`Down`](Command::Down) / [`Up`](Command::Up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A key press: holds the control for [`TAP_TICKS`] ticks from this tick.
    Tap(Control),
    /// The key went down: the control is held until [`Up`](Command::Up).
    Down(Control),
    /// The key went up.
    Up(Control),
    /// Jump to a random place (a classic last resort).
    Hyperspace,
    /// Start a new game once the current one is over.
    Restart,
}

/// Ticks a [`Command::Tap`] holds its control (100 ms at 60 Hz: longer than the gap between
/// auto-repeats, so a held key holds the control without a gap).
pub const TAP_TICKS: u32 = 6;

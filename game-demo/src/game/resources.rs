//! The game's resources: the held controls, the score board, the phase of the game, the
//! active power-ups, the wave in progress and the banner the view shows.

use tickbus::{
    prelude::*,
    replay::{StableHash, StableHasher},
    timer::TimerHandle,
};

use super::{
    AsteroidsConfig,
    input::{Command, Control, TAP_TICKS},
};

/// The game's configuration, as systems read it.
#[derive(Resource, Clone, Debug)]
pub struct Rules(pub AsteroidsConfig);

/// How long each control stays held, in ticks (`u32::MAX`: until released).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Controls {
    /// Ticks left per control, indexed by [`Control::index`].
    pub held: [u32; 4],
    /// A hyperspace jump was asked for this tick.
    pub hyperspace: bool,
}
tickbus::impl_stable_hash!(Controls { held, hyperspace });

impl Controls {
    /// True while `control` is held.
    pub fn is_held(&self, control: Control) -> bool {
        self.held[control.index()] > 0
    }

    /// Applies one command (everything but `Restart`, which starts a game).
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Tap(control) => {
                let held = &mut self.held[control.index()];
                *held = (*held).max(TAP_TICKS);
            }
            Command::Down(control) => self.held[control.index()] = u32::MAX,
            Command::Up(control) => self.held[control.index()] = 0,
            Command::Hyperspace => self.hyperspace = true,
            Command::Restart => {}
        }
    }

    /// One tick passed: taps run down (held keys stay held).
    pub fn tick(&mut self) {
        for held in &mut self.held {
            if *held != u32::MAX {
                *held = held.saturating_sub(1);
            }
        }
        self.hyperspace = false;
    }
}

/// Score, lives and level.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Points.
    pub points: u64,
    /// The score at which the next extra life is given.
    pub next_extra_life: u64,
    /// Rocks destroyed in this game.
    pub rocks: u64,
}
tickbus::impl_stable_hash!(Score {
    points,
    next_extra_life,
    rocks
});

/// Points between extra lives.
pub const EXTRA_LIFE_EVERY: u64 = 10_000;

/// Lives left (the ship on screen included).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lives(pub u32);
tickbus::impl_stable_hash!(Lives { 0 });

/// The level: the number of the current (or next) wave.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level(pub u32);
tickbus::impl_stable_hash!(Level { 0 });

/// Where the game is.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// The ship is flying.
    #[default]
    Playing,
    /// The ship was destroyed; a new one comes when the respawn timer fires.
    Respawning,
    /// No lives left: waiting for a restart.
    GameOver,
}

impl StableHash for Phase {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        (*self as u8).stable_hash(hasher);
    }
}

/// Games started since the engine was built (a restart is a new game).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Games(pub u32);
tickbus::impl_stable_hash!(Games { 0 });

/// Timed power-ups in effect, each with the timer that ends it.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivePowers {
    /// The shield's end timer.
    pub shield: Option<TimerHandle>,
    /// Rapid fire's end timer.
    pub rapid: Option<TimerHandle>,
    /// The spread shot's end timer.
    pub spread: Option<TimerHandle>,
}

impl ActivePowers {
    /// The slot of a timed power (`None` for an instant one).
    pub fn slot(&mut self, kind: super::PowerKind) -> Option<&mut Option<TimerHandle>> {
        match kind {
            super::PowerKind::Shield => Some(&mut self.shield),
            super::PowerKind::Rapid => Some(&mut self.rapid),
            super::PowerKind::Spread => Some(&mut self.spread),
            super::PowerKind::ExtraLife => None,
        }
    }
}

impl StableHash for ActivePowers {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        for handle in [self.shield, self.rapid, self.spread] {
            hash_handle(handle, hasher);
        }
    }
}

/// The next wave, while its timer is pending.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wave {
    /// The timer that brings the next wave.
    pub incoming: Option<TimerHandle>,
}

impl StableHash for Wave {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        hash_handle(self.incoming, hasher);
    }
}

fn hash_handle(handle: Option<TimerHandle>, hasher: &mut StableHasher) {
    handle.stable_hash(hasher);
}

/// A message across the arena ("LEVEL 3"), shown until a tick.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Banner {
    /// What it says.
    pub message: Option<Message>,
    /// The first tick it is no longer shown.
    pub until: u64,
}

/// The banner's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// A wave begins.
    Level(u32),
    /// A power-up was picked up.
    Power(super::PowerKind),
}

impl StableHash for Banner {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        let message = self.message.map(|message| match message {
            Message::Level(level) => (0u8, level),
            Message::Power(kind) => (1, kind as u32),
        });
        message.stable_hash(hasher);
        self.until.stable_hash(hasher);
    }
}

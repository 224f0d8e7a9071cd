//! Components of the game's entities. Every moving thing is a physics
//! [`Body`](tickbus::physics::Body); the components here say what it is.

use tickbus::{
    physics::Vec2,
    prelude::*,
    replay::{StableHash, StableHasher},
};

/// The player's ship.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Ship {
    /// Heading in radians: 0 points up the screen, positive turns clockwise.
    pub heading: f32,
    /// True while thrusting (drawn as a flame).
    pub thrusting: bool,
    /// Collisions do not hurt before this tick (after a respawn).
    pub safe_until: u64,
    /// Ticks until the gun can fire again.
    pub cooldown: u32,
}
tickbus::impl_stable_hash!(Ship {
    heading,
    thrusting,
    safe_until,
    cooldown
});

impl Ship {
    /// A ship at rest pointing up, safe from collisions until `safe_until`.
    pub fn new(safe_until: u64) -> Self {
        Self {
            heading: 0.0,
            thrusting: false,
            safe_until,
            cooldown: 0,
        }
    }

    /// The unit vector the ship points along.
    pub fn facing(&self) -> Vec2 {
        heading_vector(self.heading)
    }
}

/// The unit vector of a heading (0 = up the screen, clockwise positive, y grows downwards).
pub fn heading_vector(heading: f32) -> Vec2 {
    Vec2::new(tickbus::math::sin(heading), -tickbus::math::cos(heading))
}

/// The three sizes of rock; each splits into two of the next smaller size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RockSize {
    /// The smallest: destroyed outright.
    Small,
    /// Splits into two small rocks.
    Medium,
    /// Splits into two medium rocks.
    Large,
}

impl RockSize {
    /// The collider radius.
    pub fn radius(self) -> f32 {
        match self {
            RockSize::Small => 2.0,
            RockSize::Medium => 3.5,
            RockSize::Large => 6.0,
        }
    }

    /// Points for destroying it: small rocks are the hardest to hit.
    pub fn points(self) -> u64 {
        match self {
            RockSize::Small => 100,
            RockSize::Medium => 50,
            RockSize::Large => 20,
        }
    }

    /// The size of the two rocks it splits into.
    pub fn smaller(self) -> Option<RockSize> {
        match self {
            RockSize::Small => None,
            RockSize::Medium => Some(RockSize::Small),
            RockSize::Large => Some(RockSize::Medium),
        }
    }

    /// The range of speeds (units per second) of a new rock of this size at level 1.
    pub fn speed_range(self) -> (f32, f32) {
        match self {
            RockSize::Small => (14.0, 26.0),
            RockSize::Medium => (10.0, 19.0),
            RockSize::Large => (5.0, 12.0),
        }
    }
}

impl StableHash for RockSize {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        (*self as u8).stable_hash(hasher);
    }
}

/// A drifting rock.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Rock {
    /// Its size.
    pub size: RockSize,
    /// Its outline's seed (the view draws a lumpy outline from it).
    pub shape: u32,
    /// Its turn (radians), for drawing.
    pub spin: f32,
    /// Radians per tick.
    pub spin_rate: f32,
}
tickbus::impl_stable_hash!(Rock {
    size,
    shape,
    spin,
    spin_rate
});

/// A bullet, fired by the ship.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bullet;
tickbus::impl_stable_hash!(Bullet {});

/// What a power-up gives the ship when it flies through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PowerKind {
    /// Rocks bounce off harmlessly for a while.
    Shield,
    /// The gun fires twice as fast for a while.
    Rapid,
    /// Three bullets per shot for a while.
    Spread,
    /// One more life.
    ExtraLife,
}

impl PowerKind {
    /// Every kind, in drop-table order.
    pub const ALL: [PowerKind; 4] = [
        PowerKind::Shield,
        PowerKind::Rapid,
        PowerKind::Spread,
        PowerKind::ExtraLife,
    ];
}

impl StableHash for PowerKind {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        (*self as u8).stable_hash(hasher);
    }
}

/// A power-up drifting through the arena.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerUp(pub PowerKind);
tickbus::impl_stable_hash!(PowerUp { 0 });

/// A spark of an explosion (drawn only; it has no collider).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Debris;
tickbus::impl_stable_hash!(Debris {});

/// Ticks left before the entity disappears (bullets, debris, power-ups).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime(pub u32);
tickbus::impl_stable_hash!(Lifetime { 0 });

/// Marks everything that wraps around the arena's edges and belongs to one game (all of
/// it is despawned by a restart).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct InArena;
tickbus::impl_stable_hash!(InArena {});

/// The position at the start of the last tick, for drawing between ticks with the
/// interpolation alpha. Not part of the state hash (it is the previous tick's `Body`).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Previous(pub Vec2);

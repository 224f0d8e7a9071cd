//! The game's own events and timer payloads: what one system tells others. Every event
//! written in tick N is readable by every reader in tick N + 1.

use tickbus::{
    bevy_ecs::entity::{EntityMapper, MapEntities},
    physics::Vec2,
    prelude::*,
};

use super::{PowerKind, RockSize, resources::Message};

/// What the game's timers carry (one timer type, [`Timers<GameTimer>`](tickbus::timer::Timers)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GameTimer {
    /// The next wave of rocks arrives.
    NextWave,
    /// A power-up drops into the arena (repeating).
    DropPowerUp,
    /// A timed power-up wears off.
    PowerEnds(PowerKind),
    /// A new ship appears after a crash.
    Respawn,
}

/// A restart was asked for after game over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewGame;

/// A rock was destroyed (and despawned): it splits, scores and explodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RockDestroyed {
    /// Where it was.
    pub position: Vec2,
    /// How it moved.
    pub velocity: Vec2,
    /// Its size.
    pub size: RockSize,
}

/// The ship hit a rock while unprotected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShipHit {
    /// The ship.
    pub ship: Entity,
    /// The rock it hit (destroyed with it).
    pub rock: Entity,
}

impl MapEntities for ShipHit {
    fn map_entities<E: EntityMapper>(&mut self, mapper: &mut E) {
        self.ship = mapper.get_mapped(self.ship);
        self.rock = mapper.get_mapped(self.rock);
    }
}

/// The ship was destroyed: it explodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShipDestroyed {
    /// Where it was.
    pub position: Vec2,
    /// How it moved.
    pub velocity: Vec2,
}

/// The ship picked up a power-up (or earned an extra life).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerUpTaken(pub PowerKind);

/// Something worth a banner happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announce(pub Message);

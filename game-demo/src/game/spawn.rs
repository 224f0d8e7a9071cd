//! What the game spawns, as bundles: every entity in the arena wraps around its edges
//! ([`InArena`]) and remembers its last position for drawing ([`Previous`]).

use tickbus::bevy_ecs::bundle::Bundle;
use tickbus::physics::{Body, Collider, Vec2};

use super::{Bullet, Debris, InArena, Lifetime, PowerKind, PowerUp, Previous, Rock, Ship};

/// Collider radius of the ship.
pub const SHIP_RADIUS: f32 = 2.2;
/// Collider radius of a bullet.
pub const BULLET_RADIUS: f32 = 0.5;
/// Collider radius of a power-up.
pub const POWER_UP_RADIUS: f32 = 2.5;

fn moving(position: Vec2, velocity: Vec2) -> (Body, Previous, InArena) {
    (Body::new(position, velocity), Previous(position), InArena)
}

/// A ship at rest at `position`, safe from collisions until `safe_until`.
pub fn ship(position: Vec2, safe_until: u64) -> impl Bundle {
    (
        moving(position, Vec2::ZERO),
        Collider::circle(SHIP_RADIUS),
        Ship::new(safe_until),
    )
}

/// A rock.
pub fn rock(position: Vec2, velocity: Vec2, rock: Rock) -> impl Bundle {
    (
        moving(position, velocity),
        Collider::circle(rock.size.radius()),
        rock,
    )
}

/// A bullet that flies for `ticks` ticks.
pub fn bullet(position: Vec2, velocity: Vec2, ticks: u32) -> impl Bundle {
    (
        moving(position, velocity),
        Collider::circle(BULLET_RADIUS),
        Bullet,
        Lifetime(ticks),
    )
}

/// A power-up that drifts for `ticks` ticks.
pub fn power_up(position: Vec2, velocity: Vec2, kind: PowerKind, ticks: u32) -> impl Bundle {
    (
        moving(position, velocity),
        Collider::circle(POWER_UP_RADIUS),
        PowerUp(kind),
        Lifetime(ticks),
    )
}

/// A spark of an explosion (no collider: it touches nothing).
pub fn debris(position: Vec2, velocity: Vec2, ticks: u32) -> impl Bundle {
    (moving(position, velocity), Debris, Lifetime(ticks))
}

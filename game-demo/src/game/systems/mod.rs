//! The game's systems, by what they are about. [`build`](super::build) registers them all
//! in one place, with their order.

pub mod combat;
pub mod control;
pub mod lifecycle;
pub mod rocks;
pub mod ship;

use tickbus::{physics::Vec2, prelude::*, replay::SimRng};

/// A uniformly random direction.
fn random_direction(rng: &mut SimRng) -> Vec2 {
    tickbus::math::from_angle(rng.range_f32(0.0, std::f32::consts::TAU))
}

/// A random point of the arena at least `clearance` from `avoid` (pushed out along the
/// line from `avoid` when it falls closer), wrapped into the arena.
fn random_point_away(rng: &mut SimRng, arena: Vec2, avoid: Option<Vec2>, clearance: f32) -> Vec2 {
    let point = Vec2::new(rng.range_f32(0.0, arena.x), rng.range_f32(0.0, arena.y));
    let Some(avoid) = avoid else {
        return point;
    };
    let offset = point - avoid;
    if offset.length() >= clearance {
        return point;
    }
    let direction = offset.try_normalize().unwrap_or(Vec2::X);
    wrap(avoid + direction * clearance, arena)
}

/// `position` wrapped into `[0, arena)` on both axes.
pub fn wrap(position: Vec2, arena: Vec2) -> Vec2 {
    Vec2::new(
        wrap_axis(position.x, arena.x),
        wrap_axis(position.y, arena.y),
    )
}

fn wrap_axis(value: f32, size: f32) -> f32 {
    let wrapped = value.rem_euclid(size);
    // rem_euclid can round up to `size` itself for tiny negative values.
    if wrapped >= size { 0.0 } else { wrapped }
}

/// The entities of a contact as (one matching `first`, one matching `second`), in either
/// order, or `None` when the pair is not of those two kinds.
fn match_pair(
    contact: &tickbus::physics::Contact,
    first: impl Fn(Entity) -> bool,
    second: impl Fn(Entity) -> bool,
) -> Option<(Entity, Entity)> {
    let (a, b) = (contact.a, contact.b);
    if first(a) && second(b) {
        Some((a, b))
    } else if first(b) && second(a) {
        Some((b, a))
    } else {
        None
    }
}

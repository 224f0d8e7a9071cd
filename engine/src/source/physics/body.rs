//! Components of a physics body and its collider, and the axis-aligned box they reduce to.

use bevy_ecs::{component::Component, entity::Entity};
use glam::Vec2;

/// The order physics sorts entities by, and so emits events in: index, then generation.
/// (bevy's own `Ord` on [`Entity`] compares opaque bits, which puts higher indices first.)
pub fn entity_order(entity: Entity) -> (u32, u32) {
    (entity.index_u32(), entity.generation().to_bits())
}

/// A moving point: position and velocity, in world units and units per second.
///
/// Optional [`Mass`] and [`Restitution`] components tune how it reacts to contacts; give it a
/// [`Collider`] so it takes part in collisions and bounds checks.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq)]
pub struct Body {
    /// Centre of the body (and of its collider).
    pub position: Vec2,
    /// Units per second.
    pub velocity: Vec2,
}

impl Body {
    /// A body at `position` moving at `velocity`.
    pub fn new(position: Vec2, velocity: Vec2) -> Self {
        Self { position, velocity }
    }
}

/// The mass of a body (without it a body weighs 1). Zero, negative, infinite or NaN means
/// immovable: contacts push others away from it and gravity ignores it, but it still moves
/// at its own velocity (a kinematic body).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Mass(pub f32);

impl Mass {
    /// 1 / mass, or 0 for an immovable body.
    pub fn inverse(self) -> f32 {
        if self.0.is_finite() && self.0 > 0.0 {
            1.0 / self.0
        } else {
            0.0
        }
    }
}

/// Bounciness in `[0, 1]`: the share of the approach speed kept after a contact (without it a
/// body uses [`PhysicsConfig::default_restitution`](super::PhysicsConfig)). Of two bodies in
/// contact, the smaller value applies.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Restitution(pub f32);

/// The shape of a body, centred on its position.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Collider {
    /// A circle of this radius.
    Circle {
        /// Radius.
        radius: f32,
    },
    /// An axis-aligned box reaching `half_extents` from the centre on each axis.
    Box {
        /// Half width and half height.
        half_extents: Vec2,
    },
}

impl Collider {
    /// A circle collider.
    pub fn circle(radius: f32) -> Self {
        Collider::Circle { radius }
    }

    /// A box collider `width` × `height`.
    pub fn rect(width: f32, height: f32) -> Self {
        Collider::Box {
            half_extents: Vec2::new(width, height) * 0.5,
        }
    }

    /// The box this collider covers when centred on `center`.
    pub fn aabb(&self, center: Vec2) -> Aabb {
        let half = match *self {
            Collider::Circle { radius } => Vec2::splat(radius),
            Collider::Box { half_extents } => half_extents,
        };
        Aabb {
            min: center - half,
            max: center + half,
        }
    }
}

/// An axis-aligned box, `min` ≤ `max` on both axes; its edges belong to it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Aabb {
    /// Lower corner.
    pub min: Vec2,
    /// Upper corner.
    pub max: Vec2,
}

impl Aabb {
    /// A box from its two corners.
    pub fn new(min: Vec2, max: Vec2) -> Self {
        Self { min, max }
    }

    /// True when the boxes share at least a point (touching counts). False for NaN.
    pub fn overlaps(&self, other: &Aabb) -> bool {
        self.min.x <= other.max.x
            && other.min.x <= self.max.x
            && self.min.y <= other.max.y
            && other.min.y <= self.max.y
    }

    /// True when `other` lies entirely inside this box (edges included).
    pub fn contains(&self, other: &Aabb) -> bool {
        self.min.x <= other.min.x
            && self.min.y <= other.min.y
            && other.max.x <= self.max.x
            && other.max.y <= self.max.y
    }
}

//! The opt-in resolution step: pushes touching bodies apart and reflects their velocities,
//! and keeps colliders inside the world bounds.

use super::{
    Aabb, Body, Collider, Contact, Contacts, Mass, PhysicsConfig, Restitution, bounds::crossing,
};
use bevy_ecs::prelude::{Query, Res};

type BodyItem<'a> = (
    &'a mut Body,
    Option<&'a Mass>,
    Option<&'a Restitution>,
    Option<&'a Collider>,
);

/// The resolution system (added when [`PhysicsConfig::resolve`] is set). Contacts are
/// resolved one by one in entity-pair order, so the outcome is the same for any thread count.
///
/// For each contact: both bodies move apart along the normal by the depth, shared by inverse
/// mass; if they approach, an impulse removes the approach speed and gives back the smaller
/// restitution of the two. Then every collider crossing the bounds is moved back inside and
/// its velocity towards the wall reflected (each body on its own, so order does not matter).
pub fn resolve(
    config: Res<PhysicsConfig>,
    contacts: Res<Contacts>,
    mut bodies: Query<BodyItem<'static>>,
) {
    let fallback = config.default_restitution;
    for contact in contacts.iter() {
        if let Ok([a, b]) = bodies.get_many_mut([contact.a, contact.b]) {
            separate(contact, a, b, fallback);
        }
    }
    let Some(bounds) = config.bounds else {
        return;
    };
    for (mut body, _, restitution, collider) in &mut bodies {
        if let Some(collider) = collider {
            let e = bounciness(restitution, fallback);
            keep_inside(&mut body, collider, &bounds, e);
        }
    }
}

fn inverse_mass(mass: Option<&Mass>) -> f32 {
    mass.map_or(1.0, |mass| mass.inverse())
}

fn bounciness(restitution: Option<&Restitution>, fallback: f32) -> f32 {
    let e = restitution.map_or(fallback, |r| r.0);
    if e.is_nan() { 0.0 } else { e.clamp(0.0, 1.0) }
}

type Item<'a> = (
    bevy_ecs::world::Mut<'a, Body>,
    Option<&'a Mass>,
    Option<&'a Restitution>,
    Option<&'a Collider>,
);

fn separate(contact: &Contact, a: Item<'_>, b: Item<'_>, fallback: f32) {
    let (mut body_a, mass_a, rest_a, _) = a;
    let (mut body_b, mass_b, rest_b, _) = b;
    let (inv_a, inv_b) = (inverse_mass(mass_a), inverse_mass(mass_b));
    let total = inv_a + inv_b;
    if total <= 0.0 || !contact.depth.is_finite() {
        return;
    }
    let n = contact.normal;
    let push = n * (contact.depth / total);
    body_a.position -= push * inv_a;
    body_b.position += push * inv_b;
    let approach = (body_b.velocity - body_a.velocity).dot(n);
    if approach < 0.0 {
        let e = bounciness(rest_a, fallback).min(bounciness(rest_b, fallback));
        let impulse = n * (-(1.0 + e) * approach / total);
        body_a.velocity -= impulse * inv_a;
        body_b.velocity += impulse * inv_b;
    }
}

/// Moves a collider crossing the bounds back inside, wall by wall, and reflects the velocity
/// component pointing out through a crossed wall, scaled by `e`. Two walls at most (a
/// corner): a collider larger than the bounds cannot fit, so the loop is capped.
fn keep_inside(body: &mut Body, collider: &Collider, bounds: &Aabb, e: f32) {
    for _ in 0..2 {
        let Some((normal, depth)) = crossing(bounds, &collider.aabb(body.position)) else {
            return;
        };
        body.position -= normal * depth;
        let outward = body.velocity.dot(normal);
        if outward > 0.0 {
            body.velocity -= normal * (outward * (1.0 + e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec2;

    #[test]
    fn a_body_crossing_a_corner_is_put_back_and_bounces() {
        let bounds = Aabb::new(Vec2::ZERO, Vec2::splat(10.0));
        let mut body = Body::new(Vec2::new(10.5, -0.25), Vec2::new(2.0, -1.0));
        keep_inside(&mut body, &Collider::circle(1.0), &bounds, 0.5);
        assert_eq!(body.position, Vec2::new(9.0, 1.0));
        assert_eq!(body.velocity, Vec2::new(-1.0, 0.5));
    }

    #[test]
    fn a_collider_larger_than_the_bounds_does_not_loop_forever() {
        let bounds = Aabb::new(Vec2::ZERO, Vec2::splat(1.0));
        let mut body = Body::new(Vec2::new(0.5, 0.5), Vec2::ZERO);
        keep_inside(&mut body, &Collider::circle(3.0), &bounds, 1.0);
        let mut lost = Body::new(Vec2::NAN, Vec2::ZERO);
        keep_inside(&mut lost, &Collider::circle(0.1), &bounds, 1.0);
    }
}

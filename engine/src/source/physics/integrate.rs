//! Moves every body by its velocity (and gravity), in parallel chunks on the engine's pool.

use bevy_ecs::prelude::{Local, Query, Res};

use super::{Body, Mass, PhysicsConfig};
use crate::{ComputePool, SimTime};

/// Semi-implicit Euler over one tick: velocity += gravity × dt (movable bodies), then
/// position += velocity × dt.
///
/// Each body is updated from its own data only, so splitting the bodies over any number of
/// threads gives bit-identical results. The bodies are copied into `moving` (a buffer kept
/// from tick to tick, so a steady tick allocates nothing), stepped there in parallel chunks,
/// and written back in the same query order.
pub fn integrate(
    pool: Res<ComputePool>,
    config: Res<PhysicsConfig>,
    time: Res<SimTime>,
    mut bodies: Query<(&mut Body, Option<&Mass>)>,
    mut moving: Local<Vec<(Body, bool)>>,
) {
    let dt = time.dt().as_secs_f32();
    let gravity = config.gravity;
    moving.clear();
    moving.extend(bodies.iter().map(|(body, mass)| {
        let movable = mass.is_none_or(|mass| mass.inverse() > 0.0);
        (*body, movable)
    }));
    pool.for_each_chunk_mut(&mut moving, config.chunk_len, |_, chunk| {
        for (body, movable) in chunk {
            step_body(body, gravity, dt, *movable);
        }
    });
    for ((mut body, _), (moved, _)) in bodies.iter_mut().zip(moving.iter()) {
        *body = *moved;
    }
}

fn step_body(body: &mut Body, gravity: glam::Vec2, dt: f32, movable: bool) {
    if movable {
        body.velocity += gravity * dt;
    }
    body.position += body.velocity * dt;
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec2;

    #[test]
    fn gravity_moves_only_movable_bodies() {
        let mut falling = Body::new(Vec2::ZERO, Vec2::new(1.0, 0.0));
        let mut fixed = falling;
        step_body(&mut falling, Vec2::new(0.0, -10.0), 0.5, true);
        step_body(&mut fixed, Vec2::new(0.0, -10.0), 0.5, false);
        assert_eq!(falling.velocity, Vec2::new(1.0, -5.0));
        assert_eq!(falling.position, Vec2::new(0.5, -2.5));
        assert_eq!(fixed.position, Vec2::new(0.5, 0.0));
    }
}

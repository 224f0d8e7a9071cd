//! The world-bounds check: a collider crossing the bounds sends [`LeftBounds`] once, when it
//! starts to cross.

use bevy_ecs::{
    entity::Entity,
    prelude::{Local, Res, ResMut},
    resource::Resource,
};
use glam::Vec2;

use super::{Aabb, BroadphasePairs, LeftBounds, PhysicsConfig, entity_order};
use crate::EventWriter;

/// The entities whose collider crossed the bounds in the last step, sorted by
/// [`entity_order`].
#[derive(Resource, Default, Debug, Clone)]
pub struct OutOfBounds {
    current: Vec<Entity>,
}

impl OutOfBounds {
    /// True when the entity's collider crossed the bounds in the last step.
    pub fn contains(&self, entity: Entity) -> bool {
        let key = entity_order(entity);
        let found = self
            .current
            .binary_search_by_key(&key, |&e| entity_order(e));
        found.is_ok()
    }

    /// Entities crossing the bounds in the last step, sorted by [`entity_order`].
    pub fn entities(&self) -> &[Entity] {
        &self.current
    }

    /// The entities, mutably (restoring a snapshot remaps them; indices, and so the order,
    /// stay).
    pub(crate) fn entities_mut(&mut self) -> &mut [Entity] {
        &mut self.current
    }
}

/// How far `aabb` reaches beyond `bounds`: the outward normal of the wall crossed deepest and
/// the distance, or `None` while it is inside (touching the wall is inside).
pub fn crossing(bounds: &Aabb, aabb: &Aabb) -> Option<(Vec2, f32)> {
    let walls = [
        (bounds.min.x - aabb.min.x, Vec2::NEG_X),
        (aabb.max.x - bounds.max.x, Vec2::X),
        (bounds.min.y - aabb.min.y, Vec2::NEG_Y),
        (aabb.max.y - bounds.max.y, Vec2::Y),
    ];
    let (depth, normal) =
        walls.into_iter().fold(
            walls[0],
            |best, wall| if wall.0 > best.0 { wall } else { best },
        );
    (depth > 0.0).then_some((normal, depth))
}

/// The bounds system: with [`PhysicsConfig::bounds`] set, sends [`LeftBounds`] for every
/// collider that crosses them now but did not in the previous step, in [`entity_order`].
/// `now` is its buffer, kept from tick to tick (it holds the previous step's list between
/// ticks), so a steady tick allocates nothing.
pub fn check_bounds(
    config: Res<PhysicsConfig>,
    found: Res<BroadphasePairs>,
    mut outside: ResMut<OutOfBounds>,
    mut left: EventWriter<LeftBounds>,
    mut now: Local<Vec<Entity>>,
) {
    let Some(bounds) = config.bounds else {
        outside.current.clear();
        return;
    };
    now.clear();
    for proxy in &found.proxies {
        let Some((normal, depth)) = crossing(&bounds, &proxy.aabb) else {
            continue;
        };
        now.push(proxy.entity);
        if !outside.contains(proxy.entity) {
            left.send(LeftBounds {
                entity: proxy.entity,
                normal,
                depth,
            });
        }
    }
    std::mem::swap(&mut outside.current, &mut *now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_wall_is_reported_and_touching_is_inside() {
        let bounds = Aabb::new(Vec2::ZERO, Vec2::splat(10.0));
        let inside = Aabb::new(Vec2::ZERO, Vec2::splat(10.0));
        assert_eq!(crossing(&bounds, &inside), None);
        let corner = Aabb::new(Vec2::new(9.0, 8.5), Vec2::new(11.0, 10.5));
        assert_eq!(crossing(&bounds, &corner), Some((Vec2::X, 1.0)));
        let below = Aabb::new(Vec2::new(4.0, -3.0), Vec2::new(5.0, -2.0));
        assert_eq!(crossing(&bounds, &below), Some((Vec2::NEG_Y, 3.0)));
    }
}

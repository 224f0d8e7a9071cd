//! The engine's physics components and resources, and timer handles, as simulation state: [`StableHash`] for each, so a
//! game registers them like its own (`hasher.component::<Body>()`), which the orphan rule
//! would not let it implement.

use super::{StableHash, StableHasher};
use crate::physics::{Aabb, Body, Collider, Contact, Contacts, Mass, OutOfBounds, Restitution};

crate::impl_stable_hash!(Body { position, velocity });
crate::impl_stable_hash!(Mass { 0 });
crate::impl_stable_hash!(Restitution { 0 });
crate::impl_stable_hash!(Aabb { min, max });
crate::impl_stable_hash!(Contact {
    a,
    b,
    normal,
    depth
});

impl StableHash for Collider {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        match *self {
            Collider::Circle { radius } => {
                0u8.stable_hash(hasher);
                radius.stable_hash(hasher);
            }
            Collider::Box { half_extents } => {
                1u8.stable_hash(hasher);
                half_extents.stable_hash(hasher);
            }
        }
    }
}

impl StableHash for Contacts {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.iter().as_slice().stable_hash(hasher);
    }
}

impl StableHash for crate::timer::TimerHandle {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        (self.slot(), self.tick(), self.index()).stable_hash(hasher);
    }
}

impl StableHash for OutOfBounds {
    fn stable_hash(&self, hasher: &mut StableHasher) {
        self.entities().stable_hash(hasher);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::Vec2;
    use crate::replay::{StateHasher, stable_hash_of};
    use bevy_ecs::world::World;

    #[test]
    fn colliders_of_another_shape_or_size_hash_differently() {
        let hashes = [
            stable_hash_of(&Collider::circle(1.0)),
            stable_hash_of(&Collider::circle(2.0)),
            stable_hash_of(&Collider::rect(2.0, 2.0)),
        ];
        assert_ne!(hashes[0], hashes[1]);
        assert_ne!(hashes[0], hashes[2]);
    }

    #[test]
    fn engine_components_register_like_a_games_own() {
        let mut world = World::new();
        let body = world
            .spawn((Body::new(Vec2::ZERO, Vec2::X), Collider::circle(1.0)))
            .id();
        let mut hasher = StateHasher::new();
        hasher
            .component::<Body>()
            .component::<Collider>()
            .resource::<Contacts>();
        let before = hasher.hash(&world);
        world.get_mut::<Body>(body).unwrap().velocity = Vec2::Y;
        let after = hasher.hash(&world);
        assert_eq!(after.differing_parts(&before.parts), ["Body"]);
    }
}

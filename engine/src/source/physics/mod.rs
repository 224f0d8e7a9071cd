//! 2D physics (glam): bodies, colliders, a grid broadphase, exact narrowphase, and typed
//! contact and bounds events, emitted in entity-pair order ([`entity_order`]) whatever the
//! thread count.
//!
//! Add [`PhysicsPlugin`], spawn entities with a [`Body`] and a [`Collider`] (and optionally
//! [`Mass`] / [`Restitution`]), and read [`ContactStarted`], [`ContactEnded`] and
//! [`LeftBounds`] with [`EventReader`](crate::EventReader)s.
//!
//! # One physics step (every tick, set [`PhysicsSet`])
//!
//! 1. `integrate`: velocity and position, parallel over bodies in fixed-size chunks on the
//!    engine's [`ComputePool`](crate::ComputePool); each body depends on itself only.
//! 2. `broadphase`: snapshot of the colliders sorted by [`entity_order`] (entity ids are
//!    deterministic in this engine), candidate pairs from a uniform grid.
//! 3. `narrowphase`: exact shape tests ([`collide`]) in parallel chunks, results combined
//!    in pair order; [`Contacts`] compared with the previous step gives the started / ended
//!    events. `check_bounds` runs alongside, sends [`LeftBounds`] and keeps [`OutOfBounds`].
//! 4. `resolve` (opt-in, [`PhysicsConfig::resolve`]): sequential, in pair order.
//!
//! # Memory
//!
//! Every step keeps its buffers from tick to tick, so a steady tick allocates nothing. A
//! buffer keeps the capacity of the largest tick so far and is never shrunk (shrinking would
//! allocate again on the next busy tick): after one tick in which many bodies overlap (pairs
//! grow with the square of the bodies; 2,000 bodies piled on one point make about 2 million),
//! the step holds that tick's memory, hundreds of MB in that example, for the life of the
//! app.
//!
//! The steps are internal: order game systems against [`PhysicsSet`] (`.after(PhysicsSet)`
//! sees this tick's positions and contacts). Every component and resource here implements
//! [`StableHash`](crate::replay::StableHash), so a game registers them for its state hash.
//!
//! ```
//! use tickbus::prelude::*;
//! use tickbus::physics::{Body, Collider, ContactStarted, PhysicsPlugin, Vec2};
//!
//! #[derive(Resource, Default)]
//! struct Hits(Vec<(Entity, Entity)>);
//!
//! fn log(started: EventReader<ContactStarted>, mut hits: ResMut<Hits>) {
//!     hits.0.extend(started.iter().map(|c| (c.0.a, c.0.b)));
//! }
//!
//! let mut app = App::new();
//! app.add_plugins(PhysicsPlugin::default())
//!     .init_resource::<Hits>()
//!     .add_systems(log);
//! let left = app.world_mut().spawn((Body::new(Vec2::ZERO, Vec2::new(60.0, 0.0)), Collider::circle(1.0))).id();
//! let right = app.world_mut().spawn((Body::new(Vec2::new(4.0, 0.0), Vec2::ZERO), Collider::rect(2.0, 2.0))).id();
//! let mut engine = app.build()?;
//! // About 1 unit per tick: the circle reaches the box after 2 ticks; the event is read a tick
//! // after it was sent.
//! engine.run_ticks(5)?;
//! assert_eq!(engine.world().resource::<Hits>().0, vec![(left, right)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod bounds;
mod broadphase;
mod events;
mod integrate;
mod narrowphase;
mod plugin;
mod resolve;

/// The vector type of positions, velocities and normals: glam 0.33's, the one bevy_math 0.20
/// uses, so a bevy app's `Vec2` is this `Vec2`.
pub use glam::Vec2;

pub use body::{Aabb, Body, Collider, Mass, Restitution, entity_order};
pub use bounds::OutOfBounds;
pub use events::{Contact, ContactEnded, ContactStarted, Contacts, LeftBounds};
pub use narrowphase::{Penetration, collide};
pub use plugin::{PhysicsConfig, PhysicsPlugin, PhysicsSet};

use bounds::check_bounds;
use broadphase::BroadphasePairs;
use events::narrowphase;
use integrate::integrate;
use resolve::resolve;

/// The broadphase on its own, for the workspace's benchmarks and property tests. Not part of
/// the stable API.
#[doc(hidden)]
pub mod internals {
    pub use super::broadphase::{GridScratch, UniformGrid, brute_force_pairs};
}

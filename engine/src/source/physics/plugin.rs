//! Configuration and the plugin that adds the physics step to an app.

use bevy_ecs::{
    resource::Resource,
    schedule::{IntoScheduleConfigs, SystemSet},
};
use glam::Vec2;

use super::Contact;
use super::{
    Aabb, BroadphasePairs, ContactEnded, ContactStarted, Contacts, LeftBounds, OutOfBounds,
    broadphase::broadphase, check_bounds, integrate, narrowphase, resolve,
};
use crate::{
    App, Plugin,
    carry::{CarriedEntities, Carrier, EntityRemap, carry, no_entities},
};

/// The set every physics system is in: order game systems with `.after(PhysicsSet)` to see
/// this tick's positions, or configure it (`app.configure_sets(PhysicsSet.run_if(..))`).
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PhysicsSet;

/// How the physics step behaves; a resource, so systems may change it between ticks.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct PhysicsConfig {
    /// Acceleration applied to every movable body, units per second².
    pub gravity: Vec2,
    /// The world bounds: colliders crossing them send [`LeftBounds`] (and, with `resolve`,
    /// are put back). `None`: no bounds.
    pub bounds: Option<Aabb>,
    /// Cell size of the broadphase grid; about the diameter of a typical collider.
    pub cell_size: f32,
    /// Add the resolution system (separate and bounce). Off by default: events only.
    pub resolve: bool,
    /// Restitution of bodies without a [`Restitution`](super::Restitution) component.
    pub default_restitution: f32,
    /// Bodies per chunk of the parallel integration (any value gives the same results).
    pub chunk_len: usize,
}

impl Default for PhysicsConfig {
    fn default() -> Self {
        Self {
            gravity: Vec2::ZERO,
            bounds: None,
            cell_size: 2.0,
            resolve: false,
            default_restitution: 1.0,
            chunk_len: 1024,
        }
    }
}

/// Adds 2D physics to an app: its resources, its events and its systems, all in
/// [`PhysicsSet`], in this order:
///
/// `integrate` → `broadphase` → (`narrowphase` ∥ `check_bounds`) → `resolve` (opt-in).
///
/// Events sent during tick `N` ([`ContactStarted`], [`ContactEnded`], [`LeftBounds`]) are
/// readable during tick `N + 1`, like every written event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhysicsPlugin {
    /// The configuration inserted as a resource.
    pub config: PhysicsConfig,
}

impl PhysicsPlugin {
    /// A plugin with this configuration.
    pub fn new(config: PhysicsConfig) -> Self {
        Self { config }
    }
}

impl Plugin for PhysicsPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.config.clone())
            .init_resource::<BroadphasePairs>()
            .init_resource::<Contacts>()
            .init_resource::<OutOfBounds>()
            .add_event::<ContactStarted>()
            .add_event::<ContactEnded>()
            .add_event::<LeftBounds>()
            .add_systems(
                (integrate, broadphase, (narrowphase, check_bounds))
                    .chain()
                    .in_set(PhysicsSet),
            );
        carry_physics_state(app);
        if self.config.resolve {
            app.add_systems(
                resolve
                    .in_set(PhysicsSet)
                    .after(narrowphase)
                    .after(check_bounds),
            );
        }
    }
}

/// What the physics step keeps from one tick to the next, for snapshots: its configuration
/// (systems may change it), the contacts and bodies out of bounds of the last step (the next
/// step compares against them), and the events in flight. The broadphase's pairs are
/// recomputed before every use, so they are not carried.
fn carry_physics_state(app: &mut App) {
    let world = app.world_mut();
    carry(world, Carrier::resource::<PhysicsConfig>("PhysicsConfig"));
    carry(world, Carrier::resource::<Contacts>("Contacts"));
    carry(world, Carrier::resource::<OutOfBounds>("OutOfBounds"));
    carry(world, Carrier::queue::<ContactStarted>("ContactStarted"));
    carry(world, Carrier::queue::<ContactEnded>("ContactEnded"));
    carry(world, Carrier::queue::<LeftBounds>("LeftBounds"));
}

no_entities!(PhysicsConfig);

impl CarriedEntities for Contact {
    fn remap_entities(&mut self, remap: &mut EntityRemap) {
        self.a = remap.map(self.a);
        self.b = remap.map(self.b);
    }
}

impl CarriedEntities for Contacts {
    fn remap_entities(&mut self, remap: &mut EntityRemap) {
        for contact in self.contacts_mut() {
            contact.remap_entities(remap);
        }
    }
}

impl CarriedEntities for OutOfBounds {
    fn remap_entities(&mut self, remap: &mut EntityRemap) {
        for entity in self.entities_mut() {
            *entity = remap.map(*entity);
        }
    }
}

impl CarriedEntities for ContactStarted {
    fn remap_entities(&mut self, remap: &mut EntityRemap) {
        self.0.remap_entities(remap);
    }
}

impl CarriedEntities for ContactEnded {
    fn remap_entities(&mut self, remap: &mut EntityRemap) {
        self.0.remap_entities(remap);
    }
}

impl CarriedEntities for LeftBounds {
    fn remap_entities(&mut self, remap: &mut EntityRemap) {
        self.entity = remap.map(self.entity);
    }
}

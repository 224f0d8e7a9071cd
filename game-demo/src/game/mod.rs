//! The game: an asteroids-like arcade game as a recordable [`Game`].
//!
//! Everything is registered in [`build`], in one place and in the order of a tick:
//!
//! 1. **input**: [`read_commands`](systems::control::read_commands) turns the recorded
//!    [`Command`]s into held [`Controls`]; [`start_new_game`](systems::lifecycle::start_new_game)
//!    runs in the first tick and after a restart.
//! 2. **ship**: positions are remembered for drawing, the ship steers, the gun fires.
//! 3. **physics** (tickbus's [`PhysicsPlugin`]): bodies move, contacts are found and sent as
//!    [`ContactStarted`](tickbus::physics::ContactStarted) events, readable next tick.
//! 4. **rules**: contacts become hits, crashes and pick-ups; rocks split, points add up,
//!    lives are lost, timers bring waves, ships and power-ups; lifetimes run out.

mod components;
mod config;
mod events;
mod input;
mod resources;
pub mod spawn;
pub mod systems;

pub use components::{
    Bullet, Debris, InArena, Lifetime, PowerKind, PowerUp, Previous, Rock, RockSize, Ship,
    heading_vector,
};
pub use config::AsteroidsConfig;
pub use events::{
    Announce, GameTimer, NewGame, PowerUpTaken, RockDestroyed, ShipDestroyed, ShipHit,
};
pub use input::{Command, Control, TAP_TICKS};
pub use resources::{
    ActivePowers, Banner, Controls, EXTRA_LIFE_EVERY, Games, Level, Lives, Message, Phase, Rules,
    Score, Wave,
};

use tickbus::{
    physics::{Body, Collider, PHYSICS_SET, PhysicsConfig, PhysicsPlugin},
    prelude::*,
    replay::{Game, StateHasher},
    schedule::SystemConfig,
};

use systems::{combat, control, lifecycle, rocks, ship};

/// The set of systems that turn inputs into controls and start games.
pub const INPUT_SET: &str = "input";
/// The set of systems that move the ship and fire, before physics.
pub const SHIP_SET: &str = "ship";
/// The set of systems that apply the game's rules, after physics.
pub const RULES_SET: &str = "rules";

/// The asteroids game, recordable and replayable.
pub struct Asteroids;

impl Game for Asteroids {
    const NAME: &'static str = "asteroids";
    type Config = AsteroidsConfig;
    type Input = Command;

    fn build(config: &AsteroidsConfig, app: &mut App) {
        build(config, app);
    }

    fn register_state(hasher: &mut StateHasher) {
        register_state(hasher);
    }
}

/// Adds the whole game to `app`: resources, events, timers, physics and every system, with
/// its order. (The recorded input source is added before this by whoever builds the game.)
pub fn build(config: &AsteroidsConfig, app: &mut App) {
    add_resources(config, app);
    add_input_and_ship_systems(app);
    app.add_plugin(PhysicsPlugin::new(PhysicsConfig {
        cell_size: 8.0,
        ..PhysicsConfig::default()
    }));
    add_rules_systems(app);
}

fn add_resources(config: &AsteroidsConfig, app: &mut App) {
    app.insert_resource(Rules(config.clone()))
        .init_resource::<Controls>()
        .init_resource::<Score>()
        .init_resource::<Lives>()
        .init_resource::<Level>()
        .init_resource::<Phase>()
        .init_resource::<Games>()
        .init_resource::<ActivePowers>()
        .init_resource::<Wave>()
        .init_resource::<Banner>()
        .add_event::<NewGame>()
        .add_event::<RockDestroyed>()
        .add_event::<ShipHit>()
        .add_event::<ShipDestroyed>()
        .add_event::<PowerUpTaken>()
        .add_event::<Announce>()
        .add_timers::<GameTimer>();
}

/// In the input set.
fn input<M>(system: impl IntoSystemConfig<M>) -> SystemConfig {
    system.in_set(INPUT_SET)
}

/// In the ship set: after the input, before physics moves the bodies.
fn ship<M>(system: impl IntoSystemConfig<M>) -> SystemConfig {
    system.in_set(SHIP_SET).after(INPUT_SET).before(PHYSICS_SET)
}

/// In the rules set. Added after the physics plugin, so a rule that touches what physics
/// touches runs after it (a conflict, in registration order); the others may overlap it:
/// they read the contacts of the previous tick.
fn rules<M>(system: impl IntoSystemConfig<M>) -> SystemConfig {
    system.in_set(RULES_SET)
}

/// The systems before physics: commands, game start, the ship and its gun.
fn add_input_and_ship_systems(app: &mut App) {
    app.add_system(input(control::read_commands))
        .add_system(input(
            lifecycle::start_new_game.run_if(lifecycle::game_starts),
        ))
        .add_system(ship(lifecycle::remember_positions))
        .add_system(ship(control::steer_ship))
        .add_system(ship(control::fire_guns.after(control::steer_ship)));
}

/// The systems after (or beside) physics: contacts, rocks, lives, timers, lifetimes.
fn add_rules_systems(app: &mut App) {
    app.add_system(rules(lifecycle::wrap_around.after(PHYSICS_SET)))
        .add_system(rules(combat::bullets_hit_rocks))
        .add_system(rules(combat::ship_crashes))
        .add_system(rules(combat::collect_power_ups))
        .add_system(rules(ship::lose_life))
        .add_system(rules(ship::respawn_ship))
        .add_system(rules(ship::apply_powers))
        .add_system(rules(rocks::split_rocks))
        .add_system(rules(rocks::spin_rocks))
        .add_system(rules(lifecycle::award_points))
        .add_system(rules(lifecycle::explode))
        .add_system(rules(rocks::wave_cleared))
        .add_system(rules(rocks::next_wave))
        .add_system(rules(lifecycle::drop_power_ups))
        .add_system(rules(lifecycle::age))
        .add_system(rules(lifecycle::expire.after(lifecycle::age)))
        .add_system(rules(lifecycle::show_banner));
}

/// The state a replay compares: every component and resource that shapes later ticks.
pub fn register_state(hasher: &mut StateHasher) {
    hasher
        .component_with::<Body>(|body, hasher| {
            hasher.write(&body.position);
            hasher.write(&body.velocity);
        })
        .component_with::<Collider>(|collider, hasher| match *collider {
            Collider::Circle { radius } => hasher.write(&(0u8, radius)),
            Collider::Box { half_extents } => hasher.write(&(1u8, half_extents)),
        })
        .component::<Ship>()
        .component::<Rock>()
        .component_with::<Bullet>(|_, _| {})
        .component_with::<Debris>(|_, _| {})
        .component::<PowerUp>()
        .component::<Lifetime>()
        .resource::<Controls>()
        .resource::<Score>()
        .resource::<Lives>()
        .resource::<Level>()
        .resource::<Phase>()
        .resource::<Games>()
        .resource::<ActivePowers>()
        .resource::<Wave>()
        .resource::<Banner>();
}

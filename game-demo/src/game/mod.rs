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
//!
//! The systems that spawn entities (ships, bullets, rocks, debris, power-ups) are members of
//! tickbus's [`Spawners`] set: each runs alone among the systems with
//! `Commands`, so entity ids are the same on every executor and thread count, while the
//! `Commands` users that only despawn (lifetimes running out) run beside the others.

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
pub use config::{AsteroidsConfig, ConfigError, MAX_DEBRIS, MAX_WAVE};
pub use events::{
    Announce, GameTimer, NewGame, PowerUpTaken, RockDestroyed, ShipDestroyed, ShipHit,
};
pub use input::{Command, Control, TAP_TICKS};
pub use resources::{
    ActivePowers, Banner, Controls, EXTRA_LIFE_EVERY, Games, Level, Lives, Message, Phase, Rules,
    Score, Wave,
};

use tickbus::{
    physics::{Body, Collider, PhysicsConfig, PhysicsPlugin, PhysicsSet},
    prelude::*,
    replay::{ConfigRefusal, Game, StateHasher},
};

use systems::{combat, control, lifecycle, rocks, ship};

/// The game's phases within a tick (besides the engine's [`PhysicsSet`]).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameSet {
    /// Turns inputs into controls and starts games.
    Input,
    /// Moves the ship and fires: after the input, before physics moves the bodies.
    Ship,
    /// Applies the game's rules. Added after the physics plugin, so a rule that touches what
    /// physics touches runs after it (a conflict, in registration order); the others may
    /// overlap it: they read the contacts of the previous tick.
    Rules,
}

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

    fn validate_config(config: &AsteroidsConfig) -> Result<(), ConfigRefusal> {
        Ok(config.validate()?)
    }
}

/// Adds the whole game to `app`: resources, events, timers, physics and every system, with
/// its order. (The recorded input source is added before this by whoever builds the game.)
pub fn build(config: &AsteroidsConfig, app: &mut App) {
    add_resources(config, app);
    app.configure_sets(GameSet::Ship.after(GameSet::Input).before(PhysicsSet));
    add_input_and_ship_systems(app);
    app.add_plugins(PhysicsPlugin::new(PhysicsConfig {
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

/// The systems before physics: commands, game start, the ship and its gun.
fn add_input_and_ship_systems(app: &mut App) {
    app.add_systems(
        (
            control::read_commands,
            lifecycle::start_new_game
                .run_if(lifecycle::game_starts)
                .in_set(Spawners),
        )
            .in_set(GameSet::Input),
    )
    .add_systems(
        (
            lifecycle::remember_positions,
            control::steer_ship,
            control::fire_guns
                .after(control::steer_ship)
                .in_set(Spawners),
        )
            .in_set(GameSet::Ship),
    );
}

/// The systems after (or beside) physics: contacts, rocks, lives, timers, lifetimes.
fn add_rules_systems(app: &mut App) {
    app.add_systems(
        (
            lifecycle::wrap_around.after(PhysicsSet),
            combat::bullets_hit_rocks,
            combat::ship_crashes,
            combat::collect_power_ups,
            ship::lose_life,
            ship::respawn_ship.in_set(Spawners),
            ship::apply_powers,
            rocks::split_rocks.in_set(Spawners),
            rocks::spin_rocks,
            lifecycle::award_points,
            lifecycle::explode.in_set(Spawners),
            rocks::wave_cleared,
            rocks::next_wave.in_set(Spawners),
            lifecycle::drop_power_ups.in_set(Spawners),
            lifecycle::age,
            lifecycle::expire.after(lifecycle::age),
            lifecycle::show_banner,
        )
            .in_set(GameSet::Rules),
    );
}

/// The simulation state: every component and resource that shapes later ticks (hashed and
/// carried by snapshots), what is kept only for drawing or configuration (carried, not
/// hashed), and the game's events (carried while in flight). Each has a fixed name, so
/// recordings do not depend on how the compiler spells type names.
pub fn register_state(state: &mut StateHasher) {
    state
        .component_named::<Body>("Body")
        .component_named::<Collider>("Collider")
        .component_named::<Ship>("Ship")
        .component_named::<Rock>("Rock")
        .component_named::<Bullet>("Bullet")
        .component_named::<Debris>("Debris")
        .component_named::<PowerUp>("PowerUp")
        .component_named::<Lifetime>("Lifetime")
        .component_named::<InArena>("InArena")
        .component_unhashed::<Previous>("Previous")
        .resource_named::<Controls>("Controls")
        .resource_named::<Score>("Score")
        .resource_named::<Lives>("Lives")
        .resource_named::<Level>("Level")
        .resource_named::<Phase>("Phase")
        .resource_named::<Games>("Games")
        .resource_named::<ActivePowers>("ActivePowers")
        .resource_named::<Wave>("Wave")
        .resource_named::<Banner>("Banner")
        .resource_unhashed::<Rules>("Rules")
        .event::<NewGame>()
        .event::<RockDestroyed>()
        .event_mapped::<ShipHit>()
        .event::<ShipDestroyed>()
        .event::<PowerUpTaken>()
        .event::<Announce>();
}

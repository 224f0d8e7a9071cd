//! A small particle simulation, the first game recorded to `scenarios/`.
//!
//! Particles fall under gravity and wind in a square arena, bounce off its walls (counting
//! bounces), spin at random and expire at the end of their lifetime. New particles come from
//! a steady emitter and from recorded `Burst` inputs; recorded `Impulse` inputs push the
//! particles near a point and `Wind` inputs change the wind. Randomness comes only from
//! [`SimRng`], spawning and despawning only through `Commands`, and the only float
//! reduction ([`Energy`]) sums fixed-size chunks in index order, so the run is the same for
//! any executor and thread count.

use glam::Vec2;
use serde::{Deserialize, Serialize};
use tickbus::{
    ComputePool,
    prelude::*,
    replay::{Game, SimRng, StateHasher},
};

/// The particle game's configuration (stored in its scenarios). Unknown fields are refused,
/// so a configuration of another game or version is an error, not silently half-read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticlesConfig {
    /// Particles spawned when the game is built.
    pub initial: u32,
    /// The emitter spawns one particle every this many ticks (0: never).
    pub emit_every: u32,
    /// Shortest and longest lifetime of a particle, in ticks.
    pub lifetime: (u32, u32),
    /// Half the side of the square arena.
    pub arena: f32,
    /// Downward acceleration, units per second squared.
    pub gravity: f32,
    /// Fraction of its velocity a particle keeps per second.
    pub drag: f32,
}

impl Default for ParticlesConfig {
    fn default() -> Self {
        Self {
            initial: 48,
            emit_every: 4,
            lifetime: (240, 480),
            arena: 100.0,
            gravity: 30.0,
            drag: 0.9,
        }
    }
}

/// A recorded external input of the particle game.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ParticleInput {
    /// Adds `push` to the velocity of every particle within `radius` of `at`.
    Impulse {
        /// The centre.
        at: Vec2,
        /// The reach.
        radius: f32,
        /// The velocity change.
        push: Vec2,
    },
    /// Spawns `count` particles at `at`, flying out in random directions.
    Burst {
        /// Where.
        at: Vec2,
        /// How many.
        count: u32,
    },
    /// Sets the wind (an acceleration).
    Wind(Vec2),
}

/// Where a particle is.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Position(pub Vec2);
tickbus::impl_stable_hash!(Position { 0 });

/// How fast it moves, units per second.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Velocity(pub Vec2);
tickbus::impl_stable_hash!(Velocity { 0 });

/// Its orientation, randomly walked (radians).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Spin(pub f32);
tickbus::impl_stable_hash!(Spin { 0 });

/// Wall bounces so far (nothing reads it back: a pure counter).
#[derive(Component, Clone, Copy, Debug, PartialEq, Default)]
pub struct Bounces(pub u32);
tickbus::impl_stable_hash!(Bounces { 0 });

/// Ticks lived and ticks to live.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Lifetime {
    /// Ticks lived.
    pub age: u32,
    /// The age at which the particle expires.
    pub max: u32,
}
tickbus::impl_stable_hash!(Lifetime { age, max });

/// The current wind.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Default)]
pub struct Wind(pub Vec2);
tickbus::impl_stable_hash!(Wind { 0 });

/// Spawned and expired particle counts.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Default)]
pub struct Census {
    /// Particles spawned since the start.
    pub spawned: u64,
    /// Particles expired since the start.
    pub expired: u64,
}
tickbus::impl_stable_hash!(Census { spawned, expired });

/// Total kinetic energy (unit mass), summed in fixed-size chunks.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Default)]
pub struct Energy(pub f32);
tickbus::impl_stable_hash!(Energy { 0 });

/// The configuration, as systems read it.
#[derive(Resource, Clone, Debug)]
struct Rules(ParticlesConfig);

/// The tick of the off-by-one of [`Variant::OffByOneBounceAt`].
#[derive(Resource)]
struct BugTick(u64);

/// The burst size over which [`Variant::PanicOnBurstOver`] panics.
#[derive(Resource)]
struct BurstLimit(u32);

/// A deliberate change to the game, for the tests that must see a replay fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The game as recorded.
    Original,
    /// `bounce` counts one bounce too many for one particle in this tick.
    OffByOneBounceAt(u64),
    /// A system panics when a burst asks for more than this many particles.
    PanicOnBurstOver(u32),
}

/// Declares a particle game: the same name, config, input and hashed state, built with
/// `variant`, so its scenarios replay on the others.
macro_rules! particle_game {
    ($(#[$doc:meta])* $game:ident, $variant:expr) => {
        $(#[$doc])*
        pub struct $game;

        impl Game for $game {
            const NAME: &'static str = "particles";
            type Config = ParticlesConfig;
            type Input = ParticleInput;

            fn build(config: &ParticlesConfig, app: &mut App) {
                build(config, app, $variant);
            }

            fn register_state(hasher: &mut StateHasher) {
                register_state(hasher);
            }
        }
    };
}

particle_game!(
    /// The particle game.
    Particles,
    Variant::Original
);

/// The tick of [`ParticlesOffByOne`]'s off-by-one.
pub const OFF_BY_ONE_TICK: u64 = 500;

particle_game!(
    /// The particle game with an off-by-one in `bounce` at tick 500 (same name, so it replays
    /// the particle scenarios and must diverge there).
    ParticlesOffByOne,
    Variant::OffByOneBounceAt(OFF_BY_ONE_TICK)
);

/// The largest burst [`FragileParticles`] survives.
pub const FRAGILE_BURST_LIMIT: u32 = 100;

particle_game!(
    /// The particle game with a system that panics on bursts over [`FRAGILE_BURST_LIMIT`] (same
    /// name: the crash scenarios it records replay on [`Particles`], the game with the bug fixed).
    FragileParticles,
    Variant::PanicOnBurstOver(FRAGILE_BURST_LIMIT)
);

/// The state of the particle games: hashed, and carried by snapshots (the rules too).
pub fn register_state(hasher: &mut StateHasher) {
    hasher
        .component::<Position>()
        .component::<Velocity>()
        .component::<Spin>()
        .component::<Bounces>()
        .component::<Lifetime>()
        .resource::<Wind>()
        .resource::<Census>()
        .resource::<Energy>()
        .resource_unhashed::<Rules>("Rules");
}

/// Adds the particle game (in `variant`) to `app`.
pub fn build(config: &ParticlesConfig, app: &mut App, variant: Variant) {
    app.insert_resource(Rules(config.clone()))
        .init_resource::<Wind>()
        .init_resource::<Census>()
        .init_resource::<Energy>();
    if let Variant::PanicOnBurstOver(limit) = variant {
        app.insert_resource(BurstLimit(limit))
            .add_systems(refuse_big_bursts);
    }
    app.add_systems(seed_particles)
        .add_systems(burst)
        .add_systems(emit)
        .add_systems(set_wind)
        .add_systems(apply_impulses)
        .add_systems(accelerate)
        .add_systems(integrate);
    if let Variant::OffByOneBounceAt(tick) = variant {
        app.insert_resource(BugTick(tick))
            .add_systems(bounce_off_by_one);
    } else {
        app.add_systems(bounce);
    }
    app.add_systems(spin)
        .add_systems(age)
        .add_systems(expire)
        .add_systems(measure_energy);
}

/// Spawns the initial particles in the first tick (through Commands, like every spawn).
fn seed_particles(
    mut commands: Commands,
    mut rng: SimRng,
    rules: Res<Rules>,
    time: Res<SimTime>,
    mut census: ResMut<Census>,
) {
    if time.tick() != 0 {
        return;
    }
    let arena = rules.0.arena;
    for _ in 0..rules.0.initial {
        let at = Vec2::new(rng.range_f32(-arena, arena), rng.range_f32(-arena, arena));
        let velocity = random_direction(&mut rng) * rng.range_f32(5.0, 40.0);
        spawn_particle(&mut commands, &mut rng, &rules.0, at, velocity);
    }
    census.spawned += u64::from(rules.0.initial);
}

fn burst(
    inputs: EventReader<ParticleInput>,
    mut commands: Commands,
    mut rng: SimRng,
    rules: Res<Rules>,
    mut census: ResMut<Census>,
) {
    for input in inputs.iter() {
        if let ParticleInput::Burst { at, count } = *input {
            for _ in 0..count {
                let velocity = random_direction(&mut rng) * rng.range_f32(20.0, 80.0);
                spawn_particle(&mut commands, &mut rng, &rules.0, at, velocity);
            }
            census.spawned += u64::from(count);
        }
    }
}

fn emit(
    mut commands: Commands,
    mut rng: SimRng,
    rules: Res<Rules>,
    time: Res<SimTime>,
    mut census: ResMut<Census>,
) {
    let every = u64::from(rules.0.emit_every);
    if every == 0 || !time.tick().is_multiple_of(every) {
        return;
    }
    let at = Vec2::new(rng.range_f32(-10.0, 10.0), rules.0.arena * 0.5);
    let velocity = Vec2::new(rng.range_f32(-30.0, 30.0), rng.range_f32(20.0, 60.0));
    spawn_particle(&mut commands, &mut rng, &rules.0, at, velocity);
    census.spawned += 1;
}

fn spawn_particle(
    commands: &mut Commands,
    rng: &mut SimRng,
    rules: &ParticlesConfig,
    at: Vec2,
    velocity: Vec2,
) {
    let (shortest, longest) = rules.lifetime;
    let max = shortest + rng.below(longest.saturating_sub(shortest) + 1);
    commands.spawn((
        Position(at),
        Velocity(velocity),
        Spin(rng.range_f32(0.0, std::f32::consts::TAU)),
        Bounces::default(),
        Lifetime { age: 0, max },
    ));
}

fn random_direction(rng: &mut SimRng) -> Vec2 {
    tickbus::math::from_angle(rng.range_f32(0.0, std::f32::consts::TAU))
}

fn set_wind(inputs: EventReader<ParticleInput>, mut wind: ResMut<Wind>) {
    for input in inputs.iter() {
        if let ParticleInput::Wind(force) = *input {
            wind.0 = force;
        }
    }
}

fn apply_impulses(
    inputs: EventReader<ParticleInput>,
    mut particles: Query<(&Position, &mut Velocity)>,
) {
    for input in inputs.iter() {
        if let ParticleInput::Impulse { at, radius, push } = *input {
            for (position, mut velocity) in &mut particles {
                if position.0.distance_squared(at) <= radius * radius {
                    velocity.0 += push;
                }
            }
        }
    }
}

fn accelerate(
    mut particles: Query<&mut Velocity>,
    wind: Res<Wind>,
    rules: Res<Rules>,
    time: Res<SimTime>,
) {
    let dt = time.dt().as_secs_f32();
    let acceleration = wind.0 + Vec2::new(0.0, -rules.0.gravity);
    let keep = tickbus::math::powf(rules.0.drag, dt);
    for mut velocity in &mut particles {
        velocity.0 = (velocity.0 + acceleration * dt) * keep;
    }
}

fn integrate(mut particles: Query<(&mut Position, &Velocity)>, time: Res<SimTime>) {
    let dt = time.dt().as_secs_f32();
    for (mut position, velocity) in &mut particles {
        position.0 += velocity.0 * dt;
    }
}

type BounceQuery<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        &'static mut Position,
        &'static mut Velocity,
        &'static mut Bounces,
    ),
>;

fn bounce(particles: BounceQuery, rules: Res<Rules>) {
    bounce_walls(particles, rules.0.arena);
}

/// `bounce` with the deliberate bug of [`ParticlesOffByOne`]: in tick `bug_tick` the
/// particle with the highest entity index gets one bounce too many.
fn bounce_off_by_one(
    mut particles: BounceQuery,
    rules: Res<Rules>,
    time: Res<SimTime>,
    bug_tick: Res<BugTick>,
) {
    if time.tick() == bug_tick.0 {
        // The newest particle (the oldest may expire in this very tick, hiding the bug).
        let first = particles
            .iter()
            .map(|(entity, ..)| entity)
            .max_by_key(|entity| entity_order(*entity));
        if let Some(mut bounces) = first.and_then(|e| particles.get_mut(e).ok()).map(|p| p.3) {
            bounces.0 += 1;
        }
    }
    bounce_walls(particles, rules.0.arena);
}

fn bounce_walls(mut particles: BounceQuery, arena: f32) {
    for (_, mut position, mut velocity, mut bounces) in &mut particles {
        let mut bounced = false;
        for axis in 0..2 {
            if position.0[axis].abs() > arena {
                position.0[axis] = position.0[axis].clamp(-arena, arena);
                velocity.0[axis] = -velocity.0[axis] * 0.8;
                bounced = true;
            }
        }
        bounces.0 += u32::from(bounced);
    }
}

fn spin(mut particles: Query<&mut Spin>, mut rng: SimRng) {
    // Random draws follow the iteration: in entity order, never in storage order (which
    // follows the app's composition and, after a restored snapshot, the restore).
    let in_entity_order = particles
        .iter_mut()
        .sort_unstable_by_key::<Entity, _>(|entity| entity_order(*entity));
    for mut spin in in_entity_order {
        spin.0 = (spin.0 + rng.range_f32(-0.1, 0.1)).rem_euclid(std::f32::consts::TAU);
    }
}

fn age(mut particles: Query<&mut Lifetime>) {
    for mut lifetime in &mut particles {
        lifetime.age += 1;
    }
}

fn expire(
    mut commands: Commands,
    particles: Query<(Entity, &Lifetime)>,
    mut census: ResMut<Census>,
) {
    // Despawn order decides which ids later spawns reuse: entity order.
    let in_entity_order = particles
        .iter()
        .sort_unstable_by_key::<Entity, _>(|entity| entity_order(*entity));
    for (entity, lifetime) in in_entity_order {
        if lifetime.age >= lifetime.max {
            commands.entity(entity).despawn();
            census.expired += 1;
        }
    }
}

/// Chunk length of the energy sum: fixed, so the grouping never depends on the threads.
const ENERGY_CHUNK: usize = 32;

fn measure_energy(
    particles: Query<(Entity, &Velocity)>,
    pool: Res<ComputePool>,
    mut energy: ResMut<Energy>,
) {
    let mut velocities: Vec<(Entity, Vec2)> = particles.iter().map(|(e, v)| (e, v.0)).collect();
    velocities.sort_unstable_by_key(|(entity, _)| entity_order(*entity));
    let chunk_sums = pool.map_chunks(&velocities, ENERGY_CHUNK, |_, chunk| {
        chunk
            .iter()
            .map(|(_, v)| 0.5 * v.length_squared())
            .sum::<f32>()
    });
    energy.0 = chunk_sums.iter().sum();
}

fn refuse_big_bursts(inputs: EventReader<ParticleInput>, limit: Res<BurstLimit>) {
    for input in inputs.iter() {
        if let ParticleInput::Burst { count, .. } = *input {
            let limit = limit.0;
            assert!(
                count <= limit,
                "a burst of {count} particles is over the limit of {limit}"
            );
        }
    }
}

//! bevy's "physics in fixed timestep" example, ported: the systems keep their bodies; what
//! changes is where they are added and where time and input come from.
//!
//! | bevy | here |
//! |---|---|
//! | `add_systems(FixedUpdate, advance_physics)` | `add_systems(advance_physics)` |
//! | `add_systems(Startup, spawn_player)` | `add_startup_systems(spawn_player)` |
//! | `Res<Time<Fixed>>` | `Res<SimTime>` (same `delta_secs()`) |
//! | keyboard input accumulated before the fixed loop | input events from a channel source, read in the tick they arrive |
//! | interpolation with `Time<Fixed>::overstep_fraction()` | the frame's `alpha` in `Engine::run`'s render callback |
//!
//! Run with: `cargo run -p tickbus --example fixed_timestep_port`

use std::{ops::ControlFlow, time::Duration};

use tickbus::glam::{Vec2, Vec3};
use tickbus::prelude::*;

/// The player's input for one tick: a direction.
#[derive(Debug, Clone, Copy)]
struct Steer(Vec2);

#[derive(Component)]
struct Player;

#[derive(Component, Default)]
struct AccumulatedInput(Vec2);

#[derive(Component, Default)]
struct Velocity(Vec3);

#[derive(Component, Default)]
struct PhysicalTranslation(Vec3);

#[derive(Component, Default)]
struct PreviousPhysicalTranslation(Vec3);

const SPEED: f32 = 210.0;

/// bevy's `spawn_player`, without the sprite.
fn spawn_player(mut commands: Commands) {
    commands.spawn((
        Player,
        AccumulatedInput::default(),
        Velocity::default(),
        PhysicalTranslation::default(),
        PreviousPhysicalTranslation::default(),
    ));
}

/// bevy's `accumulate_input`, reading input events instead of the keyboard.
fn accumulate_input(
    steering: EventReader<Steer>,
    mut player: Query<(&mut AccumulatedInput, &mut Velocity)>,
) {
    for (mut input, mut velocity) in &mut player {
        for steer in &steering {
            input.0 += steer.0;
        }
        velocity.0 = input.0.extend(0.0).normalize_or_zero() * SPEED;
    }
}

/// bevy's `advance_physics`, with `Res<SimTime>` for `Res<Time<Fixed>>`.
fn advance_physics(
    fixed_time: Res<SimTime>,
    mut query: Query<(
        &mut PhysicalTranslation,
        &mut PreviousPhysicalTranslation,
        &mut AccumulatedInput,
        &Velocity,
    )>,
) {
    for (mut current, mut previous, mut input, velocity) in query.iter_mut() {
        previous.0 = current.0;
        current.0 += velocity.0 * fixed_time.delta_secs();
        // Reset the input accumulator, as we are currently consuming all input that happened
        // since the last fixed timestep.
        input.0 = Vec2::ZERO;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut app = App::new();
    let steering = app.add_source::<Steer>(SourceConfig::unbounded());
    app.set_tick_rate(64) // bevy's default fixed rate
        .add_startup_systems(spawn_player)
        .add_systems((accumulate_input, advance_physics).chain());
    let mut engine = app.build()?;

    let clock = RealClock::new();
    let mut frames = 0;
    engine.run(&clock, |engine, frame| {
        steering
            .send(Steer(Vec2::X))
            .expect("the engine holds the receiver");
        // bevy's `interpolate_rendered_transform`: what a renderer would draw this frame.
        let world = engine.world_mut();
        let mut query = world.query::<(&PhysicalTranslation, &PreviousPhysicalTranslation)>();
        for (current, previous) in query.iter(world) {
            let shown = previous.0.lerp(current.0, frame.alpha as f32);
            if frames % 10 == 0 {
                println!(
                    "tick {:>3}  alpha {:.2}  x = {:7.2}",
                    frame.tick_count, frame.alpha, shown.x
                );
            }
        }
        frames += 1;
        if clock.now() > Duration::from_millis(500) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(())
}

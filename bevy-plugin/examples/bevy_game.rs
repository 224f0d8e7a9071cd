//! The shape of a bevy game on tickbus: the simulation (fixed ticks, deterministic, its own
//! world) is a tickbus engine; bevy owns the frame loop, input and presentation.
//!
//! `cargo run -p tickbus_bevy --example bevy_game` runs two seconds headless (bevy's
//! `ScheduleRunnerPlugin` at 60 frames per second) and prints what a renderer would draw.

use std::time::Duration;

use bevy_app::{
    App as BevyApp, AppExit, RunFixedMainLoop, RunFixedMainLoopSystems, ScheduleRunnerPlugin,
    Update,
};
use bevy_ecs::prelude::*;
use bevy_time::{Time, TimePlugin};
use tickbus::physics::{Body, Collider, ContactStarted, Mass, PhysicsConfig, PhysicsPlugin, Vec2};
use tickbus::prelude::{EventReader, EventSender, SimTime, SourceConfig};
use tickbus_bevy::{Previous, SimEvent, SimFrame, TickbusPlugin};

/// Player input, sent from bevy into the simulation.
#[derive(Clone, Copy, Debug)]
struct Thrust(Vec2);

/// The player's ship (a simulation component).
#[derive(Component, Clone, Copy, Debug)]
struct Ship;

/// Simulation side: applies thrust to the ship, at the tick the input is collected.
fn steer(
    thrusts: EventReader<Thrust>,
    mut ships: Query<&mut Body, With<Ship>>,
    time: Res<SimTime>,
) {
    for thrust in &thrusts {
        for mut body in &mut ships {
            body.velocity += thrust.0 * time.delta_secs();
        }
    }
}

/// Builds the simulation: physics, the ship, a wall, and the input channel.
fn simulation() -> (tickbus::Engine, EventSender<Thrust>) {
    let mut sim = tickbus::App::new();
    let input = sim.add_source::<Thrust>(SourceConfig::bounded(64));
    sim.set_tick_rate(50)
        .add_plugins(PhysicsPlugin::new(PhysicsConfig {
            resolve: true,
            ..PhysicsConfig::default()
        }))
        .add_systems(steer.before(tickbus::physics::PhysicsSet));
    sim.world_mut().spawn((
        Ship,
        Body::new(Vec2::ZERO, Vec2::ZERO),
        Collider::circle(0.5),
    ));
    // An immovable wall (mass 0): the ship bounces off it.
    let wall = Body::new(Vec2::new(8.0, 0.0), Vec2::ZERO);
    sim.world_mut()
        .spawn((wall, Collider::rect(1.0, 6.0), Mass(0.0)));
    (sim.build().expect("a valid schedule"), input)
}

/// The bevy side's handle on the simulation's input channel.
#[derive(Resource)]
struct Controls(EventSender<Thrust>);

/// Input, before the fixed loop (where bevy reads input for `FixedUpdate` too): full thrust
/// to the right for the first half second.
fn read_input(controls: Res<Controls>, time: Res<Time>) {
    if time.elapsed() < Duration::from_millis(500) {
        controls
            .0
            .send(Thrust(Vec2::new(20.0, 0.0)))
            .expect("the engine is running");
    }
}

/// Presentation, after the fixed loop: interpolated positions, contacts as they happen.
fn draw(
    ships: Query<(&Body, &Previous<Body>), With<Ship>>,
    frame: Res<SimFrame>,
    mut contacts: MessageReader<SimEvent<ContactStarted>>,
    mut frames: Local<u32>,
    mut exit: MessageWriter<AppExit>,
) {
    for contact in contacts.read() {
        println!("tick {:>3}: the ship hit the wall", contact.tick);
    }
    *frames += 1;
    if frames.is_multiple_of(15) {
        for (body, previous) in &ships {
            let shown = previous.0.position.lerp(body.position, frame.alpha as f32);
            println!("tick {:>3}: ship drawn at x = {:6.3}", frame.tick, shown.x);
        }
    }
    if *frames == 120 {
        exit.write(AppExit::Success);
    }
}

fn main() {
    let (engine, input) = simulation();
    BevyApp::new()
        .add_plugins((
            ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 60.0)),
            TimePlugin,
            TickbusPlugin::new(engine)
                .extract_component::<Ship>()
                .extract_interpolated::<Body>()
                .extract_events::<ContactStarted>(),
        ))
        .insert_resource(Controls(input))
        .add_systems(
            RunFixedMainLoop,
            read_input.in_set(RunFixedMainLoopSystems::BeforeFixedMainLoop),
        )
        .add_systems(Update, draw)
        .run();
}

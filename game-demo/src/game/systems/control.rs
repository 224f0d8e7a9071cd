//! From the recorded commands to the ship: held controls, turning, thrust, hyperspace and
//! the gun.

use std::f32::consts::TAU;

use tickbus::{
    physics::{Body, Vec2},
    prelude::*,
    replay::SimRng,
};

use super::random_point_away;
use crate::game::{
    ActivePowers, Command, Control, Controls, NewGame, Phase, Rules, Ship, heading_vector, spawn,
};

/// Radians per second the ship turns.
pub const TURN_RATE: f32 = 4.5;
/// Units per second² of thrust.
pub const THRUST: f32 = 70.0;
/// Share of its speed the ship keeps per second while coasting.
pub const DRAG_PER_SECOND: f32 = 0.55;
/// The ship's top speed, units per second.
pub const MAX_SPEED: f32 = 55.0;
/// Bullet speed relative to the ship, units per second.
pub const BULLET_SPEED: f32 = 90.0;
/// Ticks a bullet flies (0.75 s at 60 Hz).
pub const BULLET_TICKS: u32 = 45;
/// Ticks between shots, and with rapid fire.
pub const GUN_COOLDOWN: (u32, u32) = (10, 4);
/// Heading offsets of the spread shot.
const SPREAD: [f32; 3] = [-0.22, 0.0, 0.22];

/// Applies this tick's commands to the held controls (taps from earlier ticks run down
/// first). A restart after game over becomes a [`NewGame`] event.
pub fn read_commands(
    commands: EventReader<Command>,
    phase: Res<Phase>,
    mut controls: ResMut<Controls>,
    mut new_game: EventWriter<NewGame>,
) {
    controls.tick();
    for &command in commands.iter() {
        match command {
            Command::Restart if *phase == Phase::GameOver => new_game.send(NewGame),
            command => controls.apply(command),
        }
    }
}

/// Turns and thrusts the ship, applies drag and the speed limit, and jumps through
/// hyperspace on request.
pub fn steer_ship(
    controls: Res<Controls>,
    time: Res<SimTime>,
    rules: Res<Rules>,
    mut rng: SimRng,
    mut ships: Query<(&mut Body, &mut Ship)>,
) {
    let dt = time.dt().as_secs_f32();
    let turn = f32::from(u8::from(controls.is_held(Control::Right)))
        - f32::from(u8::from(controls.is_held(Control::Left)));
    for (mut body, mut ship) in &mut ships {
        ship.heading = (ship.heading + turn * TURN_RATE * dt).rem_euclid(TAU);
        ship.thrusting = controls.is_held(Control::Thrust);
        let thrust = if ship.thrusting { THRUST } else { 0.0 };
        let velocity = body.velocity + ship.facing() * (thrust * dt);
        body.velocity =
            (velocity * tickbus::math::powf(DRAG_PER_SECOND, dt)).clamp_length_max(MAX_SPEED);
        if controls.hyperspace {
            let (width, height) = rules.0.arena;
            body.position = random_point_away(&mut rng, Vec2::new(width, height), None, 0.0);
            body.velocity = Vec2::ZERO;
        }
    }
}

/// Fires while the fire control is held and the gun is ready: one bullet, or three with
/// the spread shot.
pub fn fire_guns(
    controls: Res<Controls>,
    powers: Res<ActivePowers>,
    mut ships: Query<(&Body, &mut Ship)>,
    mut commands: Commands,
) {
    for (body, mut ship) in &mut ships {
        ship.cooldown = ship.cooldown.saturating_sub(1);
        if !controls.is_held(Control::Fire) || ship.cooldown > 0 {
            continue;
        }
        let (normal, rapid) = GUN_COOLDOWN;
        ship.cooldown = if powers.rapid.is_some() {
            rapid
        } else {
            normal
        };
        let offsets: &[f32] = if powers.spread.is_some() {
            &SPREAD
        } else {
            &SPREAD[1..2]
        };
        for offset in offsets {
            let direction = heading_vector(ship.heading + offset);
            let muzzle = body.position + direction * (spawn::SHIP_RADIUS + 1.0);
            let velocity = body.velocity + direction * BULLET_SPEED;
            commands.spawn(spawn::bullet(muzzle, velocity, BULLET_TICKS));
        }
    }
}

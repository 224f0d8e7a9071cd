//! Scripted players for headless recordings (`game-demo record --bot NAME`) and the
//! attract mode (`game-demo play --bot NAME`).
//!
//! A bot is outside the simulation, like a player: between ticks it looks at the world and
//! decides which controls to hold, and only its commands (key-state changes, as
//! [`Command::Down`] / [`Command::Up`]) go through the recorded input source. A replay
//! therefore needs no bot: it replays the commands.

use std::f32::consts::{PI, TAU};

use tickbus::{
    physics::{Body, Vec2},
    prelude::*,
};

use crate::game::{
    AsteroidsConfig, Command, Control, Phase, PowerUp, Rock, Rules, Ship,
    systems::control::{BULLET_SPEED, BULLET_TICKS},
};

/// The bots there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BotKind {
    /// Aims ahead of the nearest rock and shoots, dodges what is about to hit it, picks up
    /// power-ups nearby and restarts after game over.
    Hunter,
    /// Turns and fires without looking (a weak player: loses its lives, restarts).
    Spinner,
    /// Does nothing at all.
    Idle,
}

impl BotKind {
    /// Every bot with its name.
    pub const ALL: [(&'static str, BotKind); 3] = [
        ("hunter", BotKind::Hunter),
        ("spinner", BotKind::Spinner),
        ("idle", BotKind::Idle),
    ];

    /// The bot called `name`.
    pub fn from_name(name: &str) -> Option<BotKind> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, kind)| kind)
    }

    /// The names of all bots, for messages.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|&(name, _)| name).collect()
    }
}

/// Ticks a bot waits on the game-over screen before it restarts.
const RESTART_AFTER: u32 = 90;
/// How far ahead (seconds) the hunter looks for rocks on a collision course.
const LOOKAHEAD: f32 = 0.9;
/// Extra distance the hunter keeps from rocks.
const MARGIN: f32 = 4.0;
/// Heading error (radians) under which the hunter fires.
const AIM_TOLERANCE: f32 = 0.12;
/// Ticks between two decisions of a bot (its reaction time: 150 ms at 60 Hz, about a
/// quick human's), so it is good but not perfect and does lose lives in later waves.
const REACTION_TICKS: u32 = 9;

/// A bot: which controls it holds, and what it decides next.
pub struct Bot {
    kind: BotKind,
    held: [bool; 4],
    game_over_ticks: u32,
    since_decision: u32,
}

/// What a bot sees of one thing in the arena, relative to the ship (wrap-aware).
#[derive(Clone, Copy, Debug)]
struct Seen {
    offset: Vec2,
    velocity: Vec2,
    radius: f32,
}

impl Bot {
    /// A bot of `kind` holding nothing.
    pub fn new(kind: BotKind) -> Self {
        Self {
            kind,
            held: [false; 4],
            game_over_ticks: 0,
            since_decision: 0,
        }
    }

    /// Looks at `world` (between two ticks) and returns the commands to send before the
    /// next tick: only changes of the held controls, and restarts.
    pub fn decide(&mut self, world: &World) -> Vec<Command> {
        let phase = world.get_resource::<Phase>().copied().unwrap_or_default();
        if phase == Phase::GameOver {
            return self.wait_and_restart();
        }
        self.game_over_ticks = 0;
        self.since_decision += 1;
        if self.since_decision < REACTION_TICKS {
            return Vec::new();
        }
        self.since_decision = 0;
        let wanted = match (self.kind, ship_of(world)) {
            (BotKind::Idle, _) | (_, None) => [false; 4],
            (BotKind::Spinner, Some(_)) => [false, true, false, true],
            (BotKind::Hunter, Some((body, ship))) => hunt(world, &body, &ship),
        };
        self.change_to(wanted)
    }

    fn wait_and_restart(&mut self) -> Vec<Command> {
        let mut commands = self.change_to([false; 4]);
        self.game_over_ticks += 1;
        if self.kind != BotKind::Idle && self.game_over_ticks == RESTART_AFTER {
            commands.push(Command::Restart);
        }
        commands
    }

    /// The Down/Up commands that take the held controls to `wanted`.
    fn change_to(&mut self, wanted: [bool; 4]) -> Vec<Command> {
        let mut commands = Vec::new();
        for control in Control::ALL {
            let (now, next) = (self.held[control.index()], wanted[control.index()]);
            if now != next {
                commands.push(if next {
                    Command::Down(control)
                } else {
                    Command::Up(control)
                });
            }
        }
        self.held = wanted;
        commands
    }
}

fn ship_of(world: &World) -> Option<(Body, Ship)> {
    let mut ships = world.try_query::<(&Body, &Ship)>()?;
    ships.iter(world).next().map(|(body, ship)| (*body, *ship))
}

/// The hunter's controls: dodge a threat, else aim at the best target (and fire when on
/// it), drifting towards power-ups when the arena is calm.
fn hunt(world: &World, body: &Body, ship: &Ship) -> [bool; 4] {
    let arena = arena_of(world);
    let rocks = seen::<Rock>(world, body, arena, |rock| rock.size.radius());
    if let Some(threat) = most_urgent_threat(&rocks, body.velocity) {
        return dodge(ship, body, &threat);
    }
    let power_ups = seen::<PowerUp>(world, body, arena, |_| 2.5);
    let target = rocks
        .iter()
        .filter_map(|rock| aim_at(rock, body.velocity).map(|aim| (rock, aim)))
        .min_by(|a, b| a.0.offset.length().total_cmp(&b.0.offset.length()));
    let Some((rock, aim)) = target else {
        return approach(ship, body, power_ups.first().map(|p| p.offset));
    };
    let error = angle_between(ship.heading, aim);
    let [left, right] = turn_towards(error);
    let in_range = rock.offset.length() < BULLET_SPEED * seconds(BULLET_TICKS) * 0.9;
    let fire = error.abs() < AIM_TOLERANCE + rock.radius / rock.offset.length().max(1.0);
    let calm = rock.offset.length() > 45.0 && body.velocity.length() < 12.0;
    let thrust = calm && error.abs() < 0.3;
    [left, right, thrust, fire && in_range]
}

fn seconds(ticks: u32) -> f32 {
    ticks as f32 / 60.0
}

fn arena_of(world: &World) -> Vec2 {
    let config = world
        .get_resource::<Rules>()
        .map_or_else(AsteroidsConfig::default, |rules| rules.0.clone());
    Vec2::new(config.arena.0, config.arena.1)
}

/// Everything with a `T`, relative to the ship: the shortest offset around the wrapping
/// arena, sorted by distance (then by offset, so the order never depends on the query).
fn seen<T: Component>(
    world: &World,
    ship: &Body,
    arena: Vec2,
    radius: impl Fn(&T) -> f32,
) -> Vec<Seen> {
    let Some(mut things) = world.try_query::<(&Body, &T)>() else {
        return Vec::new();
    };
    let mut seen: Vec<Seen> = things
        .iter(world)
        .map(|(body, thing)| Seen {
            offset: torus_offset(body.position - ship.position, arena),
            velocity: body.velocity,
            radius: radius(thing),
        })
        .collect();
    seen.sort_by(|a, b| {
        let key = |s: &Seen| (s.offset.length_squared(), s.offset.x, s.offset.y);
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    seen
}

/// `delta` taken the short way around an arena that wraps.
fn torus_offset(delta: Vec2, arena: Vec2) -> Vec2 {
    let axis = |d: f32, size: f32| d - size * (d / size).round();
    Vec2::new(axis(delta.x, arena.x), axis(delta.y, arena.y))
}

/// The rock that will come closest soonest within the lookahead, if any comes too close.
fn most_urgent_threat(rocks: &[Seen], ship_velocity: Vec2) -> Option<Seen> {
    rocks
        .iter()
        .filter_map(|rock| {
            let relative = rock.velocity - ship_velocity;
            let time = closest_approach_time(rock.offset, relative);
            let closest = (rock.offset + relative * time).length();
            let danger = rock.radius + crate::game::spawn::SHIP_RADIUS + MARGIN;
            (time < LOOKAHEAD && closest < danger).then_some((time, *rock))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, rock)| rock)
}

/// Seconds from now until `offset` moving at `velocity` is closest to the origin (≥ 0).
fn closest_approach_time(offset: Vec2, velocity: Vec2) -> f32 {
    let speed_squared = velocity.length_squared();
    if speed_squared < 1e-6 {
        return 0.0;
    }
    (-offset.dot(velocity) / speed_squared).max(0.0)
}

/// Gets out of the way: turn across the rock's path and thrust, or shoot it when it comes
/// straight on.
fn dodge(ship: &Ship, body: &Body, threat: &Seen) -> [bool; 4] {
    let towards = heading_of(threat.offset);
    let error = angle_between(ship.heading, towards);
    if error.abs() < 0.35 {
        // Facing it: shoot it down (and keep turning a little to sweep).
        return [false, false, false, true];
    }
    let relative = threat.velocity - body.velocity;
    let across = Vec2::new(-relative.y, relative.x);
    let side = if across.dot(threat.offset) > 0.0 {
        -across
    } else {
        across
    };
    let escape = angle_between(ship.heading, heading_of(side));
    let [left, right] = turn_towards(escape);
    [left, right, escape.abs() < 0.8, false]
}

/// Turns towards a point (a power-up) and thrusts gently; idles when there is none.
fn approach(ship: &Ship, body: &Body, point: Option<Vec2>) -> [bool; 4] {
    let Some(point) = point else {
        return [false; 4];
    };
    let error = angle_between(ship.heading, heading_of(point));
    let [left, right] = turn_towards(error);
    [
        left,
        right,
        error.abs() < 0.3 && body.velocity.length() < 15.0,
        false,
    ]
}

/// The heading to fire at to hit `rock` (bullets inherit the ship's velocity), or `None`
/// when a bullet cannot catch it.
fn aim_at(rock: &Seen, ship_velocity: Vec2) -> Option<f32> {
    // Solve |offset + relative·t| = BULLET_SPEED·t for the first t > 0.
    let relative = rock.velocity - ship_velocity;
    let a = relative.length_squared() - BULLET_SPEED * BULLET_SPEED;
    let b = 2.0 * rock.offset.dot(relative);
    let c = rock.offset.length_squared();
    let discriminant = b * b - 4.0 * a * c;
    if discriminant < 0.0 || a.abs() < 1e-6 {
        return None;
    }
    let root = discriminant.sqrt();
    let time = [(-b - root) / (2.0 * a), (-b + root) / (2.0 * a)]
        .into_iter()
        .filter(|t| *t > 0.0)
        .fold(f32::INFINITY, f32::min);
    time.is_finite()
        .then(|| heading_of(rock.offset + relative * time))
}

/// The heading (0 = up, clockwise) of a direction.
fn heading_of(direction: Vec2) -> f32 {
    direction.x.atan2(-direction.y).rem_euclid(TAU)
}

/// The signed turn from `from` to `to`, in `(-π, π]` (positive: clockwise).
fn angle_between(from: f32, to: f32) -> f32 {
    let turn = (to - from).rem_euclid(TAU);
    if turn > PI { turn - TAU } else { turn }
}

/// Left / right held to reduce a heading error (none when close enough).
fn turn_towards(error: f32) -> [bool; 2] {
    const DEAD_ZONE: f32 = 0.04;
    [error < -DEAD_ZONE, error > DEAD_ZONE]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_and_turns_agree_with_the_ship() {
        let up = heading_of(Vec2::new(0.0, -1.0));
        assert!(up.abs() < 1e-6);
        let right = heading_of(Vec2::new(1.0, 0.0));
        assert!((right - PI / 2.0).abs() < 1e-6);
        assert!((crate::game::heading_vector(right) - Vec2::X).length() < 1e-6);
        assert!(
            angle_between(0.1, TAU - 0.1) < 0.0,
            "the short way is anticlockwise"
        );
        assert_eq!(turn_towards(0.5), [false, true]);
    }

    #[test]
    fn offsets_take_the_short_way_round() {
        let arena = Vec2::new(100.0, 50.0);
        assert_eq!(
            torus_offset(Vec2::new(90.0, -40.0), arena),
            Vec2::new(-10.0, 10.0)
        );
    }

    #[test]
    fn aiming_leads_a_moving_target() {
        let rock = Seen {
            offset: Vec2::new(0.0, -40.0),
            velocity: Vec2::new(20.0, 0.0),
            radius: 6.0,
        };
        let aim = aim_at(&rock, Vec2::ZERO).expect("a bullet catches it");
        assert!(aim > 0.0 && aim < 0.5, "aims right of straight up: {aim}");
    }
}

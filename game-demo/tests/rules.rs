//! The game's rules, headless: the game is built exactly as a replay builds it, a situation
//! is set up in its world, and ticks run.

use game_demo::{
    bot::{Bot, BotKind},
    game::{
        Asteroids, AsteroidsConfig, Command, Control, Games, Level, Lives, Phase, PowerKind, Rock,
        RockSize, Score, Ship, Wave, spawn,
        systems::{lifecycle::FIRST_WAVE_DELAY, rocks::WAVE_DELAY, ship::RESPAWN_DELAY},
    },
};
use tickbus::{
    Engine, EventSender, ExecutorKind,
    physics::{Body, Vec2},
    prelude::*,
    replay::{RunSetup, build_game},
    timer::ticks_for,
};

/// A quiet arena: no waves (zero rocks each) and no power-up drops unless a test asks.
fn quiet() -> AsteroidsConfig {
    AsteroidsConfig {
        first_wave: 0,
        wave_growth: 0,
        power_up_every_secs: 10_000,
        ..AsteroidsConfig::default()
    }
}

/// The game after its first tick (the ship is in the arena).
fn started(config: AsteroidsConfig) -> (Engine, EventSender<Command>) {
    let setup = RunSetup {
        seed: 11,
        tick_rate: 60,
        executor: ExecutorKind::Sequential,
    };
    let (mut engine, input) = build_game::<Asteroids>(&config, setup).expect("the game builds");
    engine.tick().expect("the first tick runs");
    (engine, input)
}

fn ticks(engine: &mut Engine, count: u64) {
    engine.run_ticks(count).expect("the game runs");
}

/// Runs ticks until `done` holds (at most `limit`); returns how many ran.
fn run_until(engine: &mut Engine, limit: u64, done: impl Fn(&World) -> bool) -> u64 {
    for ran in 0..limit {
        if done(engine.world()) {
            return ran;
        }
        engine.tick().expect("the game runs");
    }
    panic!("not reached in {limit} ticks");
}

fn rocks(world: &World) -> Vec<(Vec2, RockSize)> {
    let mut query = world
        .try_query::<(&Body, &Rock)>()
        .expect("rocks registered");
    query
        .iter(world)
        .map(|(body, rock)| (body.position, rock.size))
        .collect()
}

fn ship(world: &World) -> Option<(Entity, Body, Ship)> {
    let mut query = world.try_query::<(Entity, &Body, &Ship)>()?;
    query
        .iter(world)
        .next()
        .map(|(entity, body, ship)| (entity, *body, *ship))
}

/// Puts a large rock `offset` from the ship, flying at it, and makes the ship hittable.
fn rock_on_collision_course(engine: &mut Engine, offset: Vec2) {
    let (entity, body, _) = ship(engine.world()).expect("a ship");
    engine
        .world_mut()
        .get_mut::<Ship>(entity)
        .unwrap()
        .safe_until = 0;
    let rock = Rock {
        size: RockSize::Large,
        shape: 1,
        spin: 0.0,
        spin_rate: 0.0,
    };
    let velocity = -offset.normalize() * 30.0;
    engine
        .world_mut()
        .spawn(spawn::rock(body.position + offset, velocity, rock));
}

#[test]
fn a_bullet_splits_a_large_rock_into_two_medium_ones_and_scores() {
    let (mut engine, _input) = started(quiet());
    let at = Vec2::new(30.0, 30.0);
    let rock = Rock {
        size: RockSize::Large,
        shape: 7,
        spin: 0.0,
        spin_rate: 0.0,
    };
    let world = engine.world_mut();
    world.spawn(spawn::rock(at, Vec2::ZERO, rock));
    world.spawn(spawn::bullet(
        at + Vec2::new(0.0, 12.0),
        Vec2::new(0.0, -60.0),
        40,
    ));
    run_until(&mut engine, 60, |world| {
        rocks(world)
            .iter()
            .any(|(_, size)| *size == RockSize::Medium)
    });
    let after = rocks(engine.world());
    assert_eq!(after.len(), 2, "two halves: {after:?}");
    assert!(
        after
            .iter()
            .all(|(position, size)| { *size == RockSize::Medium && position.distance(at) < 3.0 })
    );
    assert_eq!(
        engine.world().resource::<Score>().points,
        RockSize::Large.points()
    );
}

#[test]
fn a_small_rock_is_destroyed_outright() {
    let (mut engine, _input) = started(quiet());
    let at = Vec2::new(30.0, 30.0);
    let rock = Rock {
        size: RockSize::Small,
        shape: 7,
        spin: 0.0,
        spin_rate: 0.0,
    };
    engine.world_mut().spawn(spawn::rock(at, Vec2::ZERO, rock));
    let bullet = spawn::bullet(at + Vec2::new(6.0, 0.0), Vec2::new(-60.0, 0.0), 40);
    engine.world_mut().spawn(bullet);
    run_until(&mut engine, 60, |world| {
        world.resource::<Score>().points > 0
    });
    ticks(&mut engine, 2);
    assert!(rocks(engine.world()).is_empty());
    assert_eq!(
        engine.world().resource::<Score>().points,
        RockSize::Small.points()
    );
}

#[test]
fn a_crash_costs_a_life_and_a_new_ship_comes_after_the_respawn_delay() {
    let (mut engine, _input) = started(quiet());
    rock_on_collision_course(&mut engine, Vec2::new(0.0, -15.0));
    let crashed_after = run_until(&mut engine, 60, |world| world.resource::<Lives>().0 == 2);
    assert!(crashed_after > 5, "the rock needs time to arrive");
    ticks(&mut engine, 1);
    let world = engine.world();
    assert_eq!(*world.resource::<Phase>(), Phase::Respawning);
    assert!(ship(world).is_none(), "the ship was destroyed");
    let waited = run_until(&mut engine, 600, |world| ship(world).is_some());
    let delay = ticks_for(RESPAWN_DELAY, engine.fixed_step().dt());
    assert!(
        waited + 1 >= delay,
        "no ship before the delay ({waited} < {delay})"
    );
    assert_eq!(*engine.world().resource::<Phase>(), Phase::Playing);
}

#[test]
fn a_shielded_ship_survives_a_crash() {
    let (mut engine, _input) = started(quiet());
    // Fly through a shield power-up first.
    let (_, body, _) = ship(engine.world()).unwrap();
    let shield = spawn::power_up(body.position, Vec2::ZERO, PowerKind::Shield, 600);
    engine.world_mut().spawn(shield);
    ticks(&mut engine, 4);
    rock_on_collision_course(&mut engine, Vec2::new(0.0, -15.0));
    ticks(&mut engine, 60);
    assert_eq!(engine.world().resource::<Lives>().0, 3);
    assert!(ship(engine.world()).is_some());
}

#[test]
fn the_wave_timer_brings_the_first_wave_and_the_next_when_the_arena_is_clear() {
    let config = AsteroidsConfig {
        first_wave: 2,
        wave_growth: 1,
        ..quiet()
    };
    let (mut engine, _input) = started(config);
    let dt = engine.fixed_step().dt();
    assert!(engine.world().resource::<Wave>().incoming.is_some());
    let first = run_until(&mut engine, 600, |world| !rocks(world).is_empty());
    // Scheduled in tick 0, fires in tick k and spawns at its end: seen once k + 1 ticks ran,
    // that is k ticks after `started`.
    assert_eq!(first, ticks_for(FIRST_WAVE_DELAY, dt));
    assert_eq!(rocks(engine.world()).len(), 2);
    assert_eq!(engine.world().resource::<Level>().0, 1);
    // Clear the arena by hand: the next wave comes after the wave delay, one rock bigger.
    let mut query = engine.world_mut().query_filtered::<Entity, With<Rock>>();
    let all: Vec<Entity> = query.iter(engine.world()).collect();
    for rock in all {
        engine.world_mut().despawn(rock);
    }
    let waited = run_until(&mut engine, 600, |world| !rocks(world).is_empty());
    assert!(waited >= ticks_for(WAVE_DELAY, dt), "waited {waited} ticks");
    assert_eq!(rocks(engine.world()).len(), 3);
    assert_eq!(engine.world().resource::<Level>().0, 2);
}

#[test]
fn game_over_waits_for_a_restart_which_starts_a_fresh_game() {
    let config = AsteroidsConfig {
        lives: 1,
        ..quiet()
    };
    let (mut engine, input) = started(config);
    // A restart while playing is ignored.
    input.send(Command::Restart).unwrap();
    ticks(&mut engine, 3);
    assert_eq!(engine.world().resource::<Games>().0, 1);
    rock_on_collision_course(&mut engine, Vec2::new(12.0, 0.0));
    run_until(&mut engine, 60, |world| {
        *world.resource::<Phase>() == Phase::GameOver
    });
    ticks(&mut engine, 300);
    assert!(ship(engine.world()).is_none(), "no respawn after game over");
    assert_eq!(*engine.world().resource::<Phase>(), Phase::GameOver);
    input.send(Command::Restart).unwrap();
    ticks(&mut engine, 2);
    let world = engine.world();
    assert_eq!(*world.resource::<Phase>(), Phase::Playing);
    assert_eq!(world.resource::<Lives>().0, 1);
    assert_eq!(world.resource::<Games>().0, 2);
    assert_eq!(world.resource::<Score>().points, 0);
    assert!(ship(world).is_some(), "a new ship");
    assert!(rocks(world).is_empty(), "the old rocks are gone");
}

#[test]
fn held_controls_turn_and_thrust_the_ship_and_taps_run_out() {
    let (mut engine, input) = started(quiet());
    input.send(Command::Down(Control::Right)).unwrap();
    input.send(Command::Down(Control::Thrust)).unwrap();
    ticks(&mut engine, 30);
    let (_, body, ship_now) = ship(engine.world()).unwrap();
    assert!(
        ship_now.heading > 1.0,
        "turned clockwise: {}",
        ship_now.heading
    );
    assert!(body.velocity.length() > 5.0, "thrust moved it");
    input.send(Command::Up(Control::Right)).unwrap();
    ticks(&mut engine, 1);
    let heading = ship(engine.world()).unwrap().2.heading;
    ticks(&mut engine, 10);
    assert_eq!(ship(engine.world()).unwrap().2.heading, heading, "released");
    input.send(Command::Tap(Control::Left)).unwrap();
    ticks(&mut engine, 30);
    let turned = heading - ship(engine.world()).unwrap().2.heading;
    let expected = game_demo::game::TAP_TICKS as f32 * 4.5 / 60.0;
    assert!(
        (turned - expected).abs() < 1e-3,
        "a tap turns for its ticks only: {turned}"
    );
}

#[test]
fn the_hunter_bot_clears_waves() {
    let setup = RunSetup {
        seed: 5,
        tick_rate: 60,
        executor: ExecutorKind::Sequential,
    };
    let (mut engine, input) =
        build_game::<Asteroids>(&AsteroidsConfig::default(), setup).expect("the game builds");
    let mut bot = Bot::new(BotKind::Hunter);
    for _ in 0..2400 {
        for command in bot.decide(engine.world()) {
            input.send(command).unwrap();
        }
        engine.tick().unwrap();
    }
    let world = engine.world();
    assert!(
        world.resource::<Level>().0 >= 2,
        "level {}",
        world.resource::<Level>().0
    );
    assert!(world.resource::<Score>().points >= 1000);
}

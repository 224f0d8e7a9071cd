//! The life of a game and of the things in it: starting (and restarting) a game, the
//! positions drawn between ticks, wrapping around the edges, lifetimes, explosions,
//! power-up drops, points and the banner.

use std::time::Duration;

use tickbus::{
    physics::{Body, Vec2, entity_order},
    prelude::*,
    replay::SimRng,
};

use super::{random_direction, random_point_away, ship::arena_centre, ship::safe_until, wrap};
use crate::game::{
    ActivePowers, Announce, Banner, Controls, EXTRA_LIFE_EVERY, GameTimer, Games, InArena, Level,
    Lifetime, Lives, NewGame, Phase, PowerKind, PowerUpTaken, Previous, RockDestroyed, Rules,
    Score, ShipDestroyed, Wave, spawn,
};

/// Delay between the start of a game and its first wave.
pub const FIRST_WAVE_DELAY: Duration = Duration::from_secs(1);
/// How long a power-up drifts before it fades.
pub const POWER_UP_LIFETIME: Duration = Duration::from_secs(8);
/// How long a banner stays up.
pub const BANNER_TIME: Duration = Duration::from_secs(2);

/// The resources a new game resets.
#[derive(tickbus::bevy_ecs::system::SystemParam)]
pub struct GameState<'w> {
    score: ResMut<'w, Score>,
    lives: ResMut<'w, Lives>,
    level: ResMut<'w, Level>,
    phase: ResMut<'w, Phase>,
    wave: ResMut<'w, Wave>,
    powers: ResMut<'w, ActivePowers>,
    controls: ResMut<'w, Controls>,
    games: ResMut<'w, Games>,
}

/// True in the first tick and when a restart was asked for.
pub fn game_starts(time: Res<SimTime>, new_game: EventReader<NewGame>) -> bool {
    time.tick() == 0 || !new_game.is_empty()
}

/// Starts a game (run when [`game_starts`]): clears the arena, resets the score board,
/// cancels the last game's timers, puts a ship in the middle and the first wave on a timer;
/// in the first tick it also starts the power-up drops.
pub fn start_new_game(
    rules: Res<Rules>,
    time: Res<SimTime>,
    arena: Query<Entity, With<InArena>>,
    mut state: GameState,
    mut timers: Timers<GameTimer>,
    mut commands: Commands,
) {
    // Despawn order decides which ids the next spawns reuse: keep it stable.
    let mut leftovers: Vec<Entity> = arena.iter().collect();
    leftovers.sort_unstable_by_key(|&entity| entity_order(entity));
    for entity in leftovers {
        commands.entity(entity).try_despawn();
    }
    let pending = [state.wave.incoming, state.powers.shield, state.powers.rapid];
    for handle in pending.into_iter().chain([state.powers.spread]).flatten() {
        timers.cancel(handle);
    }
    *state.score = Score {
        next_extra_life: EXTRA_LIFE_EVERY,
        ..Score::default()
    };
    *state.lives = Lives(rules.0.lives);
    *state.level = Level(0);
    *state.phase = Phase::Playing;
    *state.powers = ActivePowers::default();
    *state.controls = Controls::default();
    state.games.0 += 1;
    state.wave.incoming = Some(timers.once_after(FIRST_WAVE_DELAY, GameTimer::NextWave));
    if time.tick() == 0 {
        let every = Duration::from_secs(u64::from(rules.0.power_up_every_secs.max(1)));
        timers.repeat_every(every, GameTimer::DropPowerUp);
    }
    commands.spawn(spawn::ship(arena_centre(&rules), safe_until(&time)));
}

/// Remembers where everything was before this tick moves it (the view draws between the
/// two with the interpolation alpha).
pub fn remember_positions(mut bodies: Query<(&Body, &mut Previous)>) {
    for (body, mut previous) in &mut bodies {
        previous.0 = body.position;
    }
}

/// Whatever leaves the arena on one side comes back on the other.
pub fn wrap_around(rules: Res<Rules>, mut bodies: Query<&mut Body, With<InArena>>) {
    let (width, height) = rules.0.arena;
    let arena = Vec2::new(width, height);
    for mut body in &mut bodies {
        let wrapped = wrap(body.position, arena);
        // Only write what changed, so change detection stays meaningful.
        if wrapped != body.position {
            body.position = wrapped;
        }
    }
}

/// Bullets, debris and power-ups age by one tick.
pub fn age(mut lifetimes: Query<&mut Lifetime>) {
    for mut lifetime in &mut lifetimes {
        lifetime.0 = lifetime.0.saturating_sub(1);
    }
}

/// What reached the end of its lifetime disappears (in a stable order: despawn order
/// decides which ids later spawns reuse).
pub fn expire(lifetimes: Query<(Entity, &Lifetime)>, mut commands: Commands) {
    let mut expired: Vec<Entity> = lifetimes
        .iter()
        .filter(|(_, lifetime)| lifetime.0 == 0)
        .map(|(entity, _)| entity)
        .collect();
    expired.sort_unstable_by_key(|&entity| entity_order(entity));
    for entity in expired {
        commands.entity(entity).try_despawn();
    }
}

/// Destroyed rocks and ships burst into debris.
pub fn explode(
    rocks: EventReader<RockDestroyed>,
    ships: EventReader<ShipDestroyed>,
    rules: Res<Rules>,
    mut rng: SimRng,
    mut commands: Commands,
) {
    let sparks = rules.0.debris;
    let bursts = rocks
        .iter()
        .map(|rock| (rock.position, rock.velocity, sparks));
    let wrecks = ships
        .iter()
        .map(|ship| (ship.position, ship.velocity, 2 * sparks));
    for (position, velocity, count) in bursts.chain(wrecks) {
        for _ in 0..count {
            let speed = rng.range_f32(8.0, 30.0);
            let drift = velocity * 0.3 + random_direction(&mut rng) * speed;
            let ticks = 15 + rng.below(30);
            commands.spawn(spawn::debris(position, drift, ticks));
        }
    }
}

/// The drop timer brings a random power-up in from somewhere away from the ship.
pub fn drop_power_ups(
    fired: EventReader<TimerFired<GameTimer>>,
    rules: Res<Rules>,
    time: Res<SimTime>,
    phase: Res<Phase>,
    mut rng: SimRng,
    mut commands: Commands,
) {
    let drops = fired.iter().filter(|f| f.payload == GameTimer::DropPowerUp);
    if drops.count() == 0 || *phase != Phase::Playing {
        return;
    }
    let (width, height) = rules.0.arena;
    let centre = Vec2::new(width, height) * 0.5;
    let at = random_point_away(&mut rng, Vec2::new(width, height), Some(centre), 20.0);
    let velocity = random_direction(&mut rng) * rng.range_f32(4.0, 9.0);
    let kind = PowerKind::ALL[rng.below(PowerKind::ALL.len() as u32) as usize];
    let ticks = tickbus::timer::ticks_for(POWER_UP_LIFETIME, time.dt());
    commands.spawn(spawn::power_up(at, velocity, kind, ticks as u32));
}

/// Destroyed rocks score; every [`EXTRA_LIFE_EVERY`] points earn an extra life.
pub fn award_points(
    destroyed: EventReader<RockDestroyed>,
    mut score: ResMut<Score>,
    mut extra_life: EventWriter<PowerUpTaken>,
) {
    for rock in destroyed.iter() {
        score.points += rock.size.points();
        score.rocks += 1;
        if score.points >= score.next_extra_life {
            score.next_extra_life += EXTRA_LIFE_EVERY;
            extra_life.send(PowerUpTaken(PowerKind::ExtraLife));
        }
    }
}

/// The latest announcement goes up on the banner for a while.
pub fn show_banner(
    announcements: EventReader<Announce>,
    time: Res<SimTime>,
    mut banner: ResMut<Banner>,
) {
    if let Some(Announce(message)) = announcements.iter().last() {
        banner.message = Some(*message);
        banner.until = time.tick() + tickbus::timer::ticks_for(BANNER_TIME, time.dt());
    }
}

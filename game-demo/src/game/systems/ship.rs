//! The ship's fate: losing a life, coming back, power-ups and extra lives.

use std::time::Duration;

use tickbus::{
    physics::{Body, Vec2},
    prelude::*,
};

use crate::game::{
    ActivePowers, Announce, GameTimer, Lives, Message, Phase, PowerKind, PowerUpTaken, Rock,
    RockDestroyed, Rules, Ship, ShipDestroyed, ShipHit, spawn,
};

/// Delay between a crash and the next ship.
pub const RESPAWN_DELAY: Duration = Duration::from_secs(2);
/// How long a new ship is safe from collisions.
pub const SPAWN_PROTECTION: Duration = Duration::from_secs(3);
/// How long a timed power-up lasts.
pub const POWER_DURATION: Duration = Duration::from_secs(10);

/// A hit destroys the ship and the rock it hit, and costs a life: the next ship comes on a
/// timer, or the game is over.
#[allow(clippy::too_many_arguments)]
pub fn lose_life(
    hits: EventReader<ShipHit>,
    ships: Query<&Body, With<Ship>>,
    rocks: Query<(&Body, &Rock)>,
    mut phase: ResMut<Phase>,
    mut lives: ResMut<Lives>,
    mut timers: Timers<GameTimer>,
    mut commands: Commands,
    mut ship_destroyed: EventWriter<ShipDestroyed>,
    mut rock_destroyed: EventWriter<RockDestroyed>,
) {
    let Some(hit) = hits.iter().next() else {
        return;
    };
    let Ok(ship) = ships.get(hit.ship) else {
        return; // already gone
    };
    if *phase != Phase::Playing {
        return;
    }
    ship_destroyed.send(ShipDestroyed {
        position: ship.position,
        velocity: ship.velocity,
    });
    commands.entity(hit.ship).try_despawn();
    // A bullet may have destroyed the same rock a tick earlier.
    if let Ok((body, rock)) = rocks.get(hit.rock) {
        commands.entity(hit.rock).try_despawn();
        rock_destroyed.send(RockDestroyed {
            position: body.position,
            velocity: body.velocity,
            size: rock.size,
        });
    }
    lives.0 = lives.0.saturating_sub(1);
    if lives.0 == 0 {
        *phase = Phase::GameOver;
    } else {
        *phase = Phase::Respawning;
        timers.once_after(RESPAWN_DELAY, GameTimer::Respawn);
    }
}

/// The respawn timer brings a new ship to the middle of the arena, safe for a while.
pub fn respawn_ship(
    fired: EventReader<TimerFired<GameTimer>>,
    rules: Res<Rules>,
    time: Res<SimTime>,
    mut phase: ResMut<Phase>,
    mut commands: Commands,
) {
    let respawn = fired.iter().any(|f| f.payload == GameTimer::Respawn);
    if !respawn || *phase != Phase::Respawning {
        return;
    }
    *phase = Phase::Playing;
    commands.spawn(spawn::ship(arena_centre(&rules), safe_until(&time)));
}

/// The middle of the arena.
pub fn arena_centre(rules: &Rules) -> Vec2 {
    let (width, height) = rules.0.arena;
    Vec2::new(width, height) * 0.5
}

/// The first tick a ship spawned now can be hit in.
pub fn safe_until(time: &SimTime) -> u64 {
    let protection = tickbus::timer::ticks_for(SPAWN_PROTECTION, time.dt());
    time.tick() + protection
}

/// Power-ups take effect (a timed one restarts its timer when taken again) and wear off
/// when their timer fires; an extra life adds a life.
pub fn apply_powers(
    taken: EventReader<PowerUpTaken>,
    fired: EventReader<TimerFired<GameTimer>>,
    mut powers: ResMut<ActivePowers>,
    mut lives: ResMut<Lives>,
    mut timers: Timers<GameTimer>,
    mut announce: EventWriter<Announce>,
) {
    for fired in fired.iter() {
        if let GameTimer::PowerEnds(kind) = fired.payload {
            let slot = powers.slot(kind);
            // Only the timer in effect ends it (a cancelled one never fires, but be exact).
            if let Some(slot) = slot.filter(|slot| **slot == Some(fired.handle)) {
                *slot = None;
            }
        }
    }
    for &PowerUpTaken(kind) in taken.iter() {
        announce.send(Announce(Message::Power(kind)));
        let Some(slot) = powers.slot(kind) else {
            lives.0 += u32::from(kind == PowerKind::ExtraLife);
            continue;
        };
        if let Some(previous) = slot.take() {
            timers.cancel(previous);
        }
        *slot = Some(timers.once_after(POWER_DURATION, GameTimer::PowerEnds(kind)));
    }
}

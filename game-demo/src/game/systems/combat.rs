//! Physics contacts become game events: a bullet destroys a rock, a rock hits the ship, the
//! ship picks up a power-up. Contacts arrive in entity-pair order, the same on every run.

use tickbus::{
    physics::{Body, ContactStarted},
    prelude::*,
};

use super::match_pair;
use crate::game::{
    ActivePowers, Bullet, Phase, PowerUp, PowerUpTaken, Rock, RockDestroyed, Ship, ShipHit,
};

/// A bullet touching a rock destroys both (one rock per bullet, one bullet per rock).
pub fn bullets_hit_rocks(
    started: EventReader<ContactStarted>,
    bullets: Query<(), With<Bullet>>,
    rocks: Query<(&Body, &Rock)>,
    mut commands: Commands,
    mut destroyed: EventWriter<RockDestroyed>,
    mut used: Local<Vec<Entity>>,
) {
    used.clear();
    for ContactStarted(contact) in started.iter() {
        let is_bullet = |entity| bullets.contains(entity);
        let is_rock = |entity| rocks.contains(entity);
        let Some((bullet, rock)) = match_pair(contact, is_bullet, is_rock) else {
            continue;
        };
        if used.contains(&bullet) || used.contains(&rock) {
            continue;
        }
        used.extend([bullet, rock]);
        let Ok((body, rock_info)) = rocks.get(rock) else {
            continue;
        };
        commands.entity(bullet).try_despawn();
        commands.entity(rock).try_despawn();
        destroyed.send(RockDestroyed {
            position: body.position,
            velocity: body.velocity,
            size: rock_info.size,
        });
    }
}

/// A rock touching the ship while it is neither newly spawned nor shielded hits it.
pub fn ship_crashes(
    started: EventReader<ContactStarted>,
    time: Res<SimTime>,
    phase: Res<Phase>,
    powers: Res<ActivePowers>,
    ships: Query<&Ship>,
    rocks: Query<(), With<Rock>>,
    mut hits: EventWriter<ShipHit>,
) {
    if *phase != Phase::Playing || powers.shield.is_some() {
        return;
    }
    let is_ship = |entity| ships.contains(entity);
    let is_rock = |entity| rocks.contains(entity);
    let first_hit = started
        .iter()
        .find_map(|ContactStarted(contact)| match_pair(contact, is_ship, is_rock));
    if let Some((ship, rock)) = first_hit {
        let safe = ships.get(ship).is_ok_and(|s| time.tick() < s.safe_until);
        if !safe {
            hits.send(ShipHit { ship, rock });
        }
    }
}

/// The ship flying through a power-up takes it.
pub fn collect_power_ups(
    started: EventReader<ContactStarted>,
    ships: Query<(), With<Ship>>,
    power_ups: Query<&PowerUp>,
    mut commands: Commands,
    mut taken: EventWriter<PowerUpTaken>,
    mut used: Local<Vec<Entity>>,
) {
    used.clear();
    for ContactStarted(contact) in started.iter() {
        let is_ship = |entity| ships.contains(entity);
        let is_power_up = |entity| power_ups.contains(entity);
        let Some((_, power_up)) = match_pair(contact, is_ship, is_power_up) else {
            continue;
        };
        if used.contains(&power_up) {
            continue;
        }
        used.push(power_up);
        if let Ok(PowerUp(kind)) = power_ups.get(power_up) {
            commands.entity(power_up).try_despawn();
            taken.send(PowerUpTaken(*kind));
        }
    }
}

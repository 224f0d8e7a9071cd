//! Rocks: waves that arrive on a timer when the arena is clear, splitting, spinning.

use std::time::Duration;

use tickbus::bevy_ecs::bundle::Bundle;
use tickbus::{
    physics::{Body, Vec2},
    prelude::*,
    replay::SimRng,
};

use super::{random_direction, random_point_away};
use crate::game::{
    Announce, GameTimer, Level, Message, Phase, Rock, RockDestroyed, RockSize, Rules, Ship, Wave,
    spawn,
};

/// Pause between a cleared arena and the next wave.
pub const WAVE_DELAY: Duration = Duration::from_secs(2);
/// New rocks keep at least this far from the ship.
pub const SAFE_RADIUS: f32 = 28.0;
/// Rocks get this much faster with each level.
const SPEED_PER_LEVEL: f32 = 0.08;

/// A new rock of `size` at `position`, drifting at a random speed for its size and level.
fn new_rock(
    rng: &mut SimRng,
    size: RockSize,
    level: u32,
    position: Vec2,
    drift: Vec2,
) -> impl Bundle {
    let (slowest, fastest) = size.speed_range();
    let scale = 1.0 + SPEED_PER_LEVEL * level.saturating_sub(1) as f32;
    let velocity = drift + random_direction(rng) * (rng.range_f32(slowest, fastest) * scale);
    let rock = Rock {
        size,
        shape: rng.below(u32::MAX),
        spin: rng.range_f32(0.0, std::f32::consts::TAU),
        spin_rate: rng.range_f32(-0.05, 0.05),
    };
    spawn::rock(position, velocity, rock)
}

/// When no rock is left (and none is about to split), the next wave is put on a timer.
pub fn wave_cleared(
    rocks: Query<(), With<Rock>>,
    destroyed: EventReader<RockDestroyed>,
    phase: Res<Phase>,
    mut wave: ResMut<Wave>,
    mut timers: Timers<GameTimer>,
) {
    let splitting = destroyed.iter().any(|rock| rock.size.smaller().is_some());
    if wave.incoming.is_some() || *phase == Phase::GameOver || splitting || !rocks.is_empty() {
        return;
    }
    wave.incoming = Some(timers.once_after(WAVE_DELAY, GameTimer::NextWave));
}

/// The wave timer brings the next level's large rocks, away from the ship.
#[allow(clippy::too_many_arguments)]
pub fn next_wave(
    fired: EventReader<TimerFired<GameTimer>>,
    rules: Res<Rules>,
    ships: Query<&Body, With<Ship>>,
    mut wave: ResMut<Wave>,
    mut level: ResMut<Level>,
    mut rng: SimRng,
    mut commands: Commands,
    mut announce: EventWriter<Announce>,
) {
    let arrived = fired
        .iter()
        .any(|f| f.payload == GameTimer::NextWave && wave.incoming == Some(f.handle));
    if !arrived {
        return;
    }
    wave.incoming = None;
    level.0 += 1;
    announce.send(Announce(Message::Level(level.0)));
    let (width, height) = rules.0.arena;
    let ship = ships.iter().next().map(|body| body.position);
    for _ in 0..rules.0.wave_size(level.0) {
        let at = random_point_away(&mut rng, Vec2::new(width, height), ship, SAFE_RADIUS);
        commands.spawn(new_rock(&mut rng, RockSize::Large, level.0, at, Vec2::ZERO));
    }
}

/// A destroyed rock splits into two smaller ones flying apart (small rocks just vanish).
pub fn split_rocks(
    destroyed: EventReader<RockDestroyed>,
    level: Res<Level>,
    mut rng: SimRng,
    mut commands: Commands,
) {
    for rock in destroyed.iter() {
        let Some(smaller) = rock.size.smaller() else {
            continue;
        };
        let drift = rock.velocity * 0.5;
        for _ in 0..2 {
            commands.spawn(new_rock(&mut rng, smaller, level.0, rock.position, drift));
        }
    }
}

/// Rocks turn as they drift (for drawing).
pub fn spin_rocks(mut rocks: Query<&mut Rock>) {
    for mut rock in &mut rocks {
        rock.spin = (rock.spin + rock.spin_rate).rem_euclid(std::f32::consts::TAU);
    }
}

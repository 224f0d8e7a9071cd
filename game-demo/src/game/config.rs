//! The game's configuration: stored in every scenario, so a replay rebuilds the same game.

use serde::{Deserialize, Serialize};

/// Everything that shapes a game besides the seed and the inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsteroidsConfig {
    /// Width and height of the wrapping arena, in world units (y grows downwards).
    pub arena: (f32, f32),
    /// Lives at the start of a game.
    pub lives: u32,
    /// Large rocks in the first wave.
    pub first_wave: u32,
    /// Extra large rocks per level after the first.
    pub wave_growth: u32,
    /// The most large rocks a wave brings.
    pub max_wave: u32,
    /// Debris particles thrown out by an exploding rock (a ship throws twice as many).
    pub debris: u32,
    /// Seconds between power-up drops.
    pub power_up_every_secs: u32,
}

impl Default for AsteroidsConfig {
    fn default() -> Self {
        Self {
            arena: (160.0, 90.0),
            lives: 3,
            first_wave: 4,
            wave_growth: 1,
            max_wave: 11,
            debris: 8,
            power_up_every_secs: 15,
        }
    }
}

impl AsteroidsConfig {
    /// The stress game: a wide arena that starts with 3,000 large rocks (each splits into two
    /// medium and then four small ones) and throws more debris: thousands of bodies in the
    /// physics step, and hundreds of contacts.
    pub fn stress() -> Self {
        Self {
            arena: (1600.0, 900.0),
            lives: 3,
            first_wave: 3000,
            wave_growth: 200,
            max_wave: 4000,
            debris: 12,
            power_up_every_secs: 5,
        }
    }

    /// Large rocks in the wave of `level` (from 1).
    pub fn wave_size(&self, level: u32) -> u32 {
        let extra = self.wave_growth.saturating_mul(level.saturating_sub(1));
        self.first_wave.saturating_add(extra).min(self.max_wave)
    }
}

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

    /// Refuses counts the game cannot hold in memory (an edited scenario's config is checked
    /// before the game is built from it): each is at most its `MAX_` constant.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value, max) in [
            ("first_wave", self.first_wave, MAX_WAVE),
            ("max_wave", self.max_wave, MAX_WAVE),
            ("debris", self.debris, MAX_DEBRIS),
        ] {
            if value > max {
                return Err(ConfigError::TooMany { field, value, max });
            }
        }
        Ok(())
    }
}

/// The most large rocks a wave may bring (each splits into up to six more): the stress
/// game's waves are well below it, and it keeps a wave's bodies in the tens of thousands.
pub const MAX_WAVE: u32 = 10_000;
/// The most debris particles an exploding rock may throw.
pub const MAX_DEBRIS: u32 = 64;

/// A configuration the game refuses to run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A count above what the game can hold in memory.
    #[error("{field} is {value}, more than the game allows ({max})")]
    TooMany {
        /// The field of [`AsteroidsConfig`].
        field: &'static str,
        /// Its value.
        value: u32,
        /// The most it may be.
        max: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_presets_are_valid_and_huge_counts_are_refused() {
        assert_eq!(AsteroidsConfig::default().validate(), Ok(()));
        assert_eq!(AsteroidsConfig::stress().validate(), Ok(()));
        let huge = AsteroidsConfig {
            debris: 4_000_000_000,
            ..AsteroidsConfig::default()
        };
        assert_eq!(
            huge.validate(),
            Err(ConfigError::TooMany {
                field: "debris",
                value: 4_000_000_000,
                max: MAX_DEBRIS
            })
        );
    }
}

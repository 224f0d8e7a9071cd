//! Simulation time: the [`Clock`] trait, the fixed-step accumulator and the [`SimTime`]
//! resource.

mod clock;
mod fixed_step;

use std::time::Duration;

use bevy_ecs::resource::Resource;

pub use clock::{Clock, ManualClock, RealClock};
pub use fixed_step::{DEFAULT_MAX_TICKS_PER_FRAME, FixedStep, StepPlan};

/// The longest tick length an engine accepts: the longest time the clocks can measure (they
/// count nanoseconds in a `u64`, about 584 years). Longer ticks could never be due.
pub const MAX_TICK_LENGTH: Duration = Duration::from_nanos(u64::MAX);

/// The simulation clock as systems see it: integer ticks of a fixed `dt`.
///
/// During tick `n` (counting from 0), `tick()` is `n` and `elapsed()` is `n × dt`: the
/// simulation time at the start of the tick. Nothing here is an accumulated float.
///
/// Named `SimTime` (like [`SimRng`](crate::replay::SimRng) and
/// [`SimSeed`](crate::replay::SimSeed)) rather than `Time`: bevy's `Time<T>` is generic over
/// clocks (real, virtual, fixed) and means something else. What a bevy system reads from
/// `Res<Time>` inside `FixedUpdate` (`Time<Fixed>`) is what `Res<SimTime>` gives, with the same
/// method names for the common calls ([`delta`](Self::delta),
/// [`delta_secs`](Self::delta_secs), [`elapsed_secs`](Self::elapsed_secs)); all of them are
/// computed from the integer tick, never accumulated.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimTime {
    tick: u64,
    dt: Duration,
}

impl SimTime {
    pub(crate) fn new(dt: Duration) -> Self {
        Self { tick: 0, dt }
    }

    pub(crate) fn set_tick(&mut self, tick: u64) {
        self.tick = tick;
    }

    /// The number of the tick being run.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The fixed tick length.
    pub fn dt(&self) -> Duration {
        self.dt
    }

    /// Simulation time at the start of this tick: `tick × dt`, saturating at `u64::MAX`
    /// nanoseconds (about 584 years).
    pub fn elapsed(&self) -> Duration {
        let nanos = self.dt.as_nanos().saturating_mul(u128::from(self.tick));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The fixed tick length, as bevy's `Time::delta` names it (the same as [`dt`](Self::dt)).
    pub fn delta(&self) -> Duration {
        self.dt
    }

    /// The tick length in seconds as an `f32` (bevy's `Time::delta_secs`).
    pub fn delta_secs(&self) -> f32 {
        self.dt.as_secs_f32()
    }

    /// The tick length in seconds as an `f64` (bevy's `Time::delta_secs_f64`).
    pub fn delta_secs_f64(&self) -> f64 {
        self.dt.as_secs_f64()
    }

    /// [`elapsed`](Self::elapsed) in seconds as an `f32` (bevy's `Time::elapsed_secs`).
    pub fn elapsed_secs(&self) -> f32 {
        self.elapsed().as_secs_f32()
    }

    /// [`elapsed`](Self::elapsed) in seconds as an `f64` (bevy's `Time::elapsed_secs_f64`).
    pub fn elapsed_secs_f64(&self) -> f64 {
        self.elapsed().as_secs_f64()
    }
}

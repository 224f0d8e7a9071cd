//! The fixed-timestep accumulator: how many ticks a frame runs, the spiral-of-death clamp,
//! the interpolation alpha, pause / step / time scale.

use std::time::Duration;

/// What one frame should do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepPlan {
    /// Ticks to run now.
    pub ticks: u32,
    /// Simulation time thrown away by the clamp in this frame.
    pub dropped: Duration,
}

/// Turns frame times into whole ticks of `dt`.
///
/// Time is kept as a [`Duration`] (integer nanoseconds), never an accumulated float. Each
/// frame's time is scaled by the time scale, added to the accumulator, and whole ticks are
/// taken out of it, at most `max_ticks_per_frame`. When the cap is hit, the whole ticks left
/// over are dropped (and counted) so a slow machine does not fall further and further behind;
/// the fraction of a tick is kept for the interpolation alpha.
///
/// Nothing here panics, whatever the settings and frame times: a scaled frame time beyond
/// [`Duration::MAX`] (a huge time scale, or a long stall at a large one) counts as
/// `Duration::MAX`, so that frame runs `max_ticks_per_frame` ticks and drops the rest, and
/// [`dropped_total`](Self::dropped_total) saturates at `Duration::MAX`. With a time scale of
/// exactly 1 frame times are used as they are, with no float rounding.
///
/// ```
/// use std::time::Duration;
/// use tickbus::FixedStep;
///
/// let mut step = FixedStep::new(Duration::from_millis(10));
/// assert_eq!(step.advance(Duration::from_millis(25)).ticks, 2);
/// assert!((step.alpha() - 0.5).abs() < 1e-9);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FixedStep {
    dt: Duration,
    accumulator: Duration,
    max_ticks_per_frame: u32,
    time_scale: f64,
    paused: bool,
    steps_requested: u32,
    dropped_total: Duration,
}

/// Default for [`FixedStep::max_ticks_per_frame`].
pub const DEFAULT_MAX_TICKS_PER_FRAME: u32 = 8;

impl FixedStep {
    /// An accumulator for ticks of `dt` (a zero `dt` is raised to one nanosecond).
    pub fn new(dt: Duration) -> Self {
        Self {
            dt: dt.max(Duration::from_nanos(1)),
            accumulator: Duration::ZERO,
            max_ticks_per_frame: DEFAULT_MAX_TICKS_PER_FRAME,
            time_scale: 1.0,
            paused: false,
            steps_requested: 0,
            dropped_total: Duration::ZERO,
        }
    }

    /// The tick length.
    pub fn dt(&self) -> Duration {
        self.dt
    }

    /// The most ticks one frame runs.
    pub fn max_ticks_per_frame(&self) -> u32 {
        self.max_ticks_per_frame
    }

    /// Sets the most ticks one frame runs (at least 1).
    pub fn set_max_ticks_per_frame(&mut self, max: u32) {
        self.max_ticks_per_frame = max.max(1);
    }

    /// Sets the time scale: 0.5 runs the simulation at half speed, 2 at double speed.
    ///
    /// Negative and NaN values are treated as 0 (no time passes, as when paused). Positive
    /// infinity is treated as `f64::MAX`: every frame runs `max_ticks_per_frame` ticks and
    /// drops the rest (so does any scale large enough to make a frame's scaled time exceed
    /// `Duration::MAX`). A positive scale so small that a frame's scaled time rounds to zero
    /// nanoseconds lets no time pass.
    pub fn set_time_scale(&mut self, scale: f64) {
        self.time_scale = if scale > 0.0 {
            scale.min(f64::MAX)
        } else {
            0.0
        };
    }

    /// The time scale.
    pub fn time_scale(&self) -> f64 {
        self.time_scale
    }

    /// Stops time: frames add nothing to the accumulator (and drop nothing).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Lets time run again, from where it was paused.
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Asks for exactly one tick in the next frame while paused (single-step). Requests add up.
    pub fn step(&mut self) {
        self.steps_requested = self.steps_requested.saturating_add(1);
    }

    /// All simulation time dropped by the clamp so far.
    pub fn dropped_total(&self) -> Duration {
        self.dropped_total
    }

    /// Time waiting in the accumulator (less than one `dt` after a frame).
    pub fn accumulator(&self) -> Duration {
        self.accumulator
    }

    /// How far the render is between the last tick and the next one, in `[0, 1)`.
    pub fn alpha(&self) -> f64 {
        self.accumulator.as_secs_f64() / self.dt.as_secs_f64()
    }

    /// Time until the accumulator holds a whole tick (zero when it already does).
    pub fn until_next_tick(&self) -> Duration {
        self.dt.saturating_sub(self.accumulator)
    }

    /// Real time to wait before the next frame: until the accumulator holds a whole tick at
    /// the current time scale, at least 1 ns (so a loop on a manual clock always moves on,
    /// even at a huge time scale) and at most one `dt` (exactly one `dt` while paused or while
    /// no time passes, so a loop keeps polling at the tick rate). Never panics: a tiny time
    /// scale, whose exact wait would overflow `Duration`, gives one `dt`.
    pub fn real_time_until_next_tick(&self) -> Duration {
        let scale = self.time_scale;
        if self.paused || scale <= 0.0 {
            return self.dt;
        }
        let scaled = self.until_next_tick().as_secs_f64();
        let real = Duration::try_from_secs_f64(scaled / scale).unwrap_or(Duration::MAX);
        real.clamp(Duration::from_nanos(1), self.dt)
    }

    /// Accounts for one frame of `frame_time` and says how many ticks to run now.
    #[must_use = "the plan says how many ticks to run; dropping it loses them"]
    pub fn advance(&mut self, frame_time: Duration) -> StepPlan {
        if self.paused {
            return self.take_requested_steps();
        }
        self.accumulator = self.accumulator.saturating_add(self.scaled(frame_time));
        let whole = self.whole_ticks();
        let ticks = whole.min(u64::from(self.max_ticks_per_frame)) as u32;
        self.accumulator -= self.dt * ticks;
        let mut plan = StepPlan {
            ticks,
            dropped: Duration::ZERO,
        };
        if whole > u64::from(ticks) {
            plan.dropped = self.accumulator - self.fraction();
            self.accumulator = self.fraction();
            self.dropped_total = self.dropped_total.saturating_add(plan.dropped);
        }
        plan
    }

    fn take_requested_steps(&mut self) -> StepPlan {
        let ticks = self.steps_requested.min(self.max_ticks_per_frame);
        self.steps_requested -= ticks;
        StepPlan {
            ticks,
            dropped: Duration::ZERO,
        }
    }

    /// `frame_time` times the time scale, saturating at `Duration::MAX`.
    fn scaled(&self, frame_time: Duration) -> Duration {
        if self.time_scale == 1.0 {
            return frame_time;
        }
        scale_saturating(frame_time, self.time_scale)
    }

    fn whole_ticks(&self) -> u64 {
        let whole = self.accumulator.as_nanos() / self.dt.as_nanos();
        u64::try_from(whole).unwrap_or(u64::MAX)
    }

    fn fraction(&self) -> Duration {
        let nanos = self.accumulator.as_nanos() % self.dt.as_nanos();
        Duration::from_nanos(nanos as u64)
    }
}

/// `duration × factor` for a factor ≥ 0, saturating at `Duration::MAX` instead of
/// panicking as `Duration::mul_f64` does.
fn scale_saturating(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn whole_ticks_are_taken_and_the_fraction_stays() {
        let mut step = FixedStep::new(10 * MS);
        assert_eq!(step.advance(5 * MS).ticks, 0);
        assert_eq!(step.advance(5 * MS).ticks, 1);
        assert_eq!(step.advance(34 * MS).ticks, 3);
        assert_eq!(step.accumulator(), 4 * MS);
        assert!((step.alpha() - 0.4).abs() < 1e-9);
    }

    #[test]
    fn the_clamp_drops_whole_ticks_and_counts_them() {
        let mut step = FixedStep::new(10 * MS);
        step.set_max_ticks_per_frame(3);
        let plan = step.advance(57 * MS);
        assert_eq!(
            plan,
            StepPlan {
                ticks: 3,
                dropped: 20 * MS
            }
        );
        assert_eq!(step.accumulator(), 7 * MS);
        assert_eq!(step.dropped_total(), 20 * MS);
    }

    #[test]
    fn pause_stops_time_and_step_runs_one_tick() {
        let mut step = FixedStep::new(10 * MS);
        assert_eq!(step.advance(5 * MS).ticks, 0);
        step.pause();
        assert_eq!(step.advance(100 * MS).ticks, 0);
        step.step();
        assert_eq!(step.advance(100 * MS).ticks, 1);
        assert_eq!(step.advance(100 * MS).ticks, 0);
        step.resume();
        assert_eq!(
            step.advance(5 * MS).ticks,
            1,
            "the 5 ms from before the pause are kept"
        );
    }

    #[test]
    fn time_scale_scales_frame_time() {
        let mut step = FixedStep::new(10 * MS);
        step.set_time_scale(0.5);
        assert_eq!(step.advance(40 * MS).ticks, 2);
        step.set_time_scale(f64::NAN);
        assert_eq!(step.advance(40 * MS).ticks, 0);
    }

    #[test]
    fn a_huge_time_scale_saturates_instead_of_overflowing() {
        for scale in [1e19, 1e300, f64::MAX, f64::INFINITY] {
            let mut step = FixedStep::new(10 * MS);
            step.set_max_ticks_per_frame(4);
            step.set_time_scale(scale);
            let plan = step.advance(Duration::from_secs(10));
            assert_eq!(plan.ticks, 4, "scale {scale}");
            assert_eq!(plan.dropped, Duration::MAX - step.accumulator() - 40 * MS);
            assert!(step.accumulator() < 10 * MS);
            let _ = step.advance(Duration::from_secs(10));
            assert_eq!(step.dropped_total(), Duration::MAX, "saturated");
        }
    }

    #[test]
    fn a_frame_longer_than_u64_ticks_is_clamped_not_truncated() {
        let mut step = FixedStep::new(Duration::from_nanos(1));
        step.set_max_ticks_per_frame(3);
        // 2^64 + 1 whole ticks: a cast to u64 would see 1 and run a single tick.
        let plan = step.advance(Duration::from_nanos(u64::MAX) + Duration::from_nanos(2));
        assert_eq!(plan.ticks, 3);
        assert_eq!(step.accumulator(), Duration::ZERO);
    }

    #[test]
    fn the_real_time_wait_is_at_most_one_tick_at_any_scale() {
        for scale in [0.0, 1e-300, 1e-21, 0.5, 1.0, 3.0, 1e300, f64::INFINITY] {
            let mut step = FixedStep::new(10 * MS);
            step.set_time_scale(scale);
            let _ = step.advance(MS);
            let wait = step.real_time_until_next_tick();
            assert!(wait <= 10 * MS, "scale {scale}: {wait:?}");
        }
        let mut step = FixedStep::new(10 * MS);
        let _ = step.advance(4 * MS);
        assert_eq!(step.real_time_until_next_tick(), 6 * MS);
        step.set_time_scale(2.0);
        assert_eq!(step.real_time_until_next_tick(), 3 * MS);
        step.pause();
        assert_eq!(step.real_time_until_next_tick(), 10 * MS);
    }

    #[test]
    fn negative_nan_and_tiny_scales_let_no_time_pass() {
        for scale in [
            -1.0,
            -0.0,
            f64::NEG_INFINITY,
            f64::NAN,
            1e-30,
            f64::MIN_POSITIVE,
        ] {
            let mut step = FixedStep::new(10 * MS);
            step.set_time_scale(scale);
            assert_eq!(step.advance(Duration::from_secs(1000)).ticks, 0, "{scale}");
            assert_eq!(step.accumulator(), Duration::ZERO, "{scale}");
        }
    }
}

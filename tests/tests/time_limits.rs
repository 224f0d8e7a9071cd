//! Stalls and extreme time settings, driven by a manual clock: a 10 s stall is clamped, its
//! dropped time reported and the loop recovers; any time scale (0, tiny, huge, negative, NaN,
//! infinite), any accepted tick length (1 ns to `MAX_TICK_LENGTH`) and a cap of 0 ticks per
//! frame run without a panic; longer ticks are refused at build; the manual clock saturates
//! instead of going backwards.

use std::{ops::ControlFlow, time::Duration};

use proptest::prelude::*;
use tickbus::{BuildError, FrameReport, MAX_TICK_LENGTH, prelude::*};

const MS: Duration = Duration::from_millis(1);

#[derive(Resource, Default)]
struct Ran(u64);

fn count(mut ran: ResMut<Ran>) {
    ran.0 += 1;
}

fn engine(dt: Duration, max_ticks_per_frame: u32) -> Engine {
    let mut app = App::new();
    app.set_tick_length(dt)
        .set_max_ticks_per_frame(max_ticks_per_frame)
        .init_resource::<Ran>()
        .add_system(count);
    app.build().expect("an accepted tick length")
}

/// Runs `frames` frames of the real-time loop on `clock`, calling `during` before each
/// frame's report is kept; checks that the clock never goes back. Returns the reports.
fn run_frames(
    engine: &mut Engine,
    clock: &ManualClock,
    frames: usize,
    mut during: impl FnMut(usize, &ManualClock),
) -> Vec<FrameReport> {
    let mut reports = Vec::new();
    let mut last_now = clock.now();
    engine
        .run(clock, |_, report| {
            assert!(clock.now() >= last_now, "the clock went back");
            last_now = clock.now();
            during(reports.len(), clock);
            reports.push(*report);
            if reports.len() == frames {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("no system fails");
    reports
}

#[test]
fn a_ten_second_stall_is_clamped_reported_and_the_loop_recovers() {
    let mut engine = engine(10 * MS, 4);
    let clock = ManualClock::new();
    let reports = run_frames(&mut engine, &clock, 40, |frame, clock| {
        if frame == 10 {
            clock.advance(Duration::from_secs(10)); // the process was stopped
        }
    });
    // The loop sleeps exactly until each tick: one tick per frame, before and after.
    let ticks: Vec<u32> = reports.iter().map(|r| r.ticks).collect();
    assert!(ticks[1..=10].iter().all(|&t| t == 1), "{ticks:?}");
    // After the stall: 10 s + the 10 ms slept = 1001 ticks due; 4 run, 997 dropped.
    assert_eq!(ticks[11], 4);
    assert_eq!(reports[11].dropped, 997 * 10 * MS);
    assert!(ticks[12..].iter().all(|&t| t == 1), "no spiral: {ticks:?}");
    assert!(reports.iter().all(|r| r.ticks <= 4), "the clamp holds");
    assert_eq!(engine.fixed_step().dropped_total(), 997 * 10 * MS);
    let ran = engine.world().resource::<Ran>().0;
    assert_eq!(ran, engine.tick_count());
    assert_eq!(ran, u64::from(ticks.iter().sum::<u32>()));
}

#[test]
fn a_cap_of_zero_ticks_per_frame_counts_as_one() {
    let mut engine = engine(10 * MS, 0);
    assert_eq!(engine.fixed_step().max_ticks_per_frame(), 1);
    let clock = ManualClock::new();
    let reports = run_frames(&mut engine, &clock, 5, |frame, clock| {
        if frame == 1 {
            clock.advance(Duration::from_secs(1));
        }
    });
    assert_eq!(reports[2].ticks, 1);
    assert_eq!(reports[2].dropped, 100 * 10 * MS);
}

/// Runs 30 frames at `scale`, with a 10 s stall in the middle; returns the ticks run.
fn ticks_at_scale(scale: f64) -> u64 {
    let mut engine = engine(10 * MS, 8);
    engine.fixed_step_mut().set_time_scale(scale);
    let clock = ManualClock::new();
    let reports = run_frames(&mut engine, &clock, 30, |frame, clock| {
        if frame == 15 {
            clock.advance(Duration::from_secs(10));
        }
    });
    assert!(reports.iter().all(|r| r.ticks <= 8), "scale {scale}");
    assert!(
        reports.iter().all(|r| (0.0..1.0).contains(&r.alpha)),
        "scale {scale}"
    );
    engine.tick_count()
}

#[test]
fn time_scales_that_let_no_time_pass() {
    for scale in [0.0, -0.0, -1.0, f64::NEG_INFINITY, f64::NAN, 1e-21, 1e-300] {
        assert_eq!(ticks_at_scale(scale), 0, "scale {scale}");
    }
}

#[test]
fn huge_time_scales_saturate_at_the_clamp() {
    for scale in [1e18, 1e19, 1e300, f64::MAX, f64::INFINITY] {
        // Every frame after the first runs the most ticks a frame may.
        assert_eq!(ticks_at_scale(scale), 29 * 8, "scale {scale}");
    }
}

#[test]
fn ordinary_time_scales_still_scale() {
    // The loop sleeps until the next tick is due (at most one tick length): at scale 1 and
    // 2 every frame after the first runs one tick, and the stall frame runs the cap.
    assert_eq!(ticks_at_scale(1.0), 28 + 8);
    assert_eq!(ticks_at_scale(2.0), 28 + 8);
    // At half speed a tick is due every other 10 ms sleep: frames 2, 4, … 14 and 18, … 28
    // run one each, and the stall frame (16) the cap.
    assert_eq!(ticks_at_scale(0.5), 13 + 8);
}

#[test]
fn tick_lengths_from_one_nanosecond_to_the_maximum_run() {
    for dt in [
        Duration::from_nanos(1),
        Duration::from_micros(1),
        10 * MS,
        Duration::from_secs(3600),
        MAX_TICK_LENGTH,
    ] {
        let mut engine = engine(dt, 8);
        let clock = ManualClock::new();
        let reports = run_frames(&mut engine, &clock, 12, |frame, clock| {
            if frame == 6 {
                clock.advance(Duration::from_secs(10));
            }
        });
        assert!(reports.iter().all(|r| r.ticks <= 8), "{dt:?}");
        assert!(engine.tick_count() >= 1, "{dt:?}");
        let time = engine.world().resource::<SimTime>();
        assert!(time.elapsed() <= Duration::from_nanos(u64::MAX), "{dt:?}");
    }
}

#[test]
fn the_longest_tick_runs_once_then_the_manual_clock_has_reached_its_end() {
    let mut engine = engine(MAX_TICK_LENGTH, 8);
    let clock = ManualClock::new();
    run_frames(&mut engine, &clock, 6, |_, _| {});
    assert_eq!(engine.tick_count(), 1);
    assert_eq!(clock.now(), MAX_TICK_LENGTH, "saturated, not wrapped");
}

#[test]
fn tick_lengths_outside_the_range_are_refused_at_build() {
    let build = |dt: Duration| {
        let mut app = App::new();
        app.set_tick_length(dt);
        app.build().err()
    };
    assert!(matches!(
        build(Duration::ZERO),
        Some(BuildError::ZeroTickLength)
    ));
    for dt in [MAX_TICK_LENGTH + Duration::from_nanos(1), Duration::MAX] {
        let error = build(dt);
        assert!(
            matches!(error, Some(BuildError::TickLengthTooLong { length }) if length == dt),
            "{error:?}"
        );
    }
    let mut app = App::new();
    app.set_tick_rate(1_000_000_001);
    assert!(matches!(
        app.build().err(),
        Some(BuildError::ZeroTickLength)
    ));
}

#[test]
fn the_manual_clock_saturates_instead_of_wrapping() {
    let clock = ManualClock::new();
    clock.advance(Duration::from_nanos(u64::MAX - 5));
    clock.advance(Duration::from_nanos(10));
    assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
}

/// Durations spread over the whole range: nanoseconds to `Duration::MAX`.
fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..100_000_000).prop_map(Duration::from_nanos),
        any::<u64>().prop_map(Duration::from_nanos),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        Just(Duration::MAX),
    ]
}

fn any_scale() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(1.0),
        0.0..4.0f64,
        any::<f64>(),
        Just(f64::INFINITY),
        Just(f64::NAN),
        Just(1e-21),
        Just(1e19),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any tick length, scale, cap and frame times: no panic, the clamp holds, the
    /// accumulator stays below one tick, dropped time only grows, the wait is at most a tick.
    #[test]
    fn the_accumulator_never_panics_and_keeps_its_invariants(
        dt in any_duration(),
        scale in any_scale(),
        max in 0u32..20,
        frames in prop::collection::vec(any_duration(), 1..20),
    ) {
        let mut step = FixedStep::new(dt);
        step.set_max_ticks_per_frame(max);
        step.set_time_scale(scale);
        let dt = step.dt();
        let mut dropped = Duration::ZERO;
        for frame in frames {
            let plan = step.advance(frame);
            prop_assert!(plan.ticks <= max.max(1));
            prop_assert!(step.accumulator() < dt);
            prop_assert!(step.dropped_total() >= dropped);
            dropped = step.dropped_total();
            prop_assert!(step.real_time_until_next_tick() <= dt);
            prop_assert!((0.0..1.0).contains(&step.alpha()));
        }
    }

    /// At scale 1 and short of saturation, no time is lost or made up: every nanosecond of
    /// every frame is in a tick run, in the dropped total or in the accumulator.
    #[test]
    fn at_scale_one_time_is_conserved(
        dt in (1u64..1_000_000_000).prop_map(Duration::from_nanos),
        max in 1u32..20,
        frames in prop::collection::vec((0u64..10_000_000_000).prop_map(Duration::from_nanos), 1..50),
    ) {
        let mut step = FixedStep::new(dt);
        step.set_max_ticks_per_frame(max);
        let (mut total, mut ticked) = (0u128, 0u128);
        for frame in frames {
            total += frame.as_nanos();
            ticked += u128::from(step.advance(frame).ticks) * dt.as_nanos();
            let accounted =
                ticked + step.dropped_total().as_nanos() + step.accumulator().as_nanos();
            prop_assert_eq!(accounted, total);
        }
    }

    /// The manual clock never goes back, whatever it is advanced by.
    #[test]
    fn the_manual_clock_never_goes_back(steps in prop::collection::vec(any_duration(), 1..20)) {
        let clock = ManualClock::new();
        let mut expected: u128 = 0;
        for step in steps {
            let before = clock.now();
            clock.advance(step);
            expected = (expected + step.as_nanos()).min(u128::from(u64::MAX));
            prop_assert!(clock.now() >= before);
            prop_assert_eq!(clock.now().as_nanos(), expected);
        }
    }
}

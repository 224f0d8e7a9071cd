//! The fixed-timestep loop driven by a manual clock: ticks per frame, the clamp and its
//! dropped-time counter, the interpolation alpha, pause / step / time scale, `SimTime`.

use std::{ops::ControlFlow, time::Duration};

use tickbus::prelude::*;

const MS: Duration = Duration::from_millis(1);

#[derive(Resource, Default)]
struct Ticks(Vec<(u64, Duration)>);

fn record(time: Res<SimTime>, mut ticks: ResMut<Ticks>) {
    ticks.0.push((time.tick(), time.elapsed()));
}

fn engine(max_ticks_per_frame: u32) -> Engine {
    let mut app = App::new();
    app.set_tick_length(10 * MS)
        .set_max_ticks_per_frame(max_ticks_per_frame)
        .init_resource::<Ticks>()
        .add_systems(record);
    app.build().unwrap()
}

#[test]
fn frame_times_become_whole_ticks() {
    let mut engine = engine(8);
    let clock = ManualClock::new();
    assert_eq!(
        engine.frame(&clock).unwrap().ticks,
        0,
        "the first frame starts the clock"
    );
    let mut ticks_per_frame = Vec::new();
    for frame_ms in [4, 4, 4, 25, 16, 0, 9] {
        clock.advance(frame_ms * MS);
        ticks_per_frame.push(engine.frame(&clock).unwrap().ticks);
    }
    // accumulator: 4, 8, 12→2, 27→7, 23→3, 3, 12→2
    assert_eq!(ticks_per_frame, vec![0, 0, 1, 2, 2, 0, 1]);
    assert_eq!(engine.tick_count(), 6);
    assert!((engine.fixed_step().alpha() - 0.2).abs() < 1e-9);
    let ticks = &engine.world().resource::<Ticks>().0;
    assert_eq!(ticks.last(), Some(&(5, 50 * MS)), "elapsed = tick × dt");
}

#[test]
fn a_long_frame_is_clamped_and_the_dropped_time_counted() {
    let mut engine = engine(4);
    let clock = ManualClock::new();
    engine.frame(&clock).unwrap();
    clock.advance(1005 * MS);
    let report = engine.frame(&clock).unwrap();
    assert_eq!(report.ticks, 4);
    assert_eq!(report.dropped, 960 * MS);
    assert_eq!(engine.fixed_step().dropped_total(), 960 * MS);
    assert!((report.alpha - 0.5).abs() < 1e-9);
}

#[test]
fn pause_step_resume_and_time_scale() {
    let mut engine = engine(8);
    let clock = ManualClock::new();
    engine.frame(&clock).unwrap();
    engine.fixed_step_mut().pause();
    clock.advance(100 * MS);
    assert_eq!(engine.frame(&clock).unwrap().ticks, 0);
    engine.fixed_step_mut().step();
    engine.fixed_step_mut().step();
    clock.advance(MS);
    assert_eq!(
        engine.frame(&clock).unwrap().ticks,
        2,
        "two single steps while paused"
    );
    engine.fixed_step_mut().resume();
    engine.fixed_step_mut().set_time_scale(2.0);
    clock.advance(10 * MS);
    assert_eq!(engine.frame(&clock).unwrap().ticks, 2, "double speed");
    assert_eq!(engine.tick_count(), 4);
}

#[test]
fn run_drives_frames_until_the_callback_breaks() {
    let mut engine = engine(8);
    let clock = ManualClock::new();
    let mut frames = 0;
    let mut alphas = Vec::new();
    engine
        .run(&clock, |engine, report| {
            frames += 1;
            alphas.push(report.alpha);
            if engine.tick_count() >= 30 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    // The manual clock advances by exactly what the loop sleeps: one tick per frame.
    assert_eq!(engine.tick_count(), 30);
    assert_eq!(frames, 31);
    assert!(alphas.iter().all(|a| (0.0..1.0).contains(a)));
}

/// The engine owns `SimTime`: a user who removes it gets it back at the next tick, with the
/// right tick and tick length, instead of the tick panicking.
#[test]
fn a_removed_sim_time_comes_back_at_the_next_tick() {
    let mut engine = engine(8);
    engine.run_ticks(2).unwrap();
    assert!(engine.world_mut().remove_resource::<SimTime>().is_some());
    engine.run_ticks(2).unwrap();
    let ticks = &engine.world().resource::<Ticks>().0;
    let expected: Vec<(u64, Duration)> = (0..4).map(|tick| (tick, tick as u32 * 10 * MS)).collect();
    assert_eq!(ticks, &expected);
    assert_eq!(engine.world().resource::<SimTime>().dt(), 10 * MS);
}

/// `SimTime` removed before the first tick is back before the startup systems run, so a
/// startup system that reads it runs (once) instead of failing.
#[test]
fn a_sim_time_removed_before_the_first_tick_is_back_for_the_startup_systems() {
    let mut app = App::new();
    app.set_tick_length(10 * MS)
        .init_resource::<Ticks>()
        .add_startup_systems(record)
        .add_systems(record);
    let mut engine = app.build().unwrap();
    assert!(engine.world_mut().remove_resource::<SimTime>().is_some());
    engine.run_ticks(2).unwrap();
    let ticks = &engine.world().resource::<Ticks>().0;
    assert_eq!(
        ticks,
        &[(0, Duration::ZERO), (0, Duration::ZERO), (1, 10 * MS)]
    );
}

/// `SimTime` removed before `start` is back for the startup systems too, and a startup system
/// that removes it does not make tick 0 fail.
#[test]
fn sim_time_is_back_for_start_and_after_a_startup_system_removed_it() {
    let mut app = App::new();
    app.set_tick_length(10 * MS)
        .init_resource::<Ticks>()
        .add_startup_systems((record, |world: &mut World| {
            world.remove_resource::<SimTime>();
        }))
        .add_systems(record);
    let mut engine = app.build().unwrap();
    assert!(engine.world_mut().remove_resource::<SimTime>().is_some());
    engine.start().unwrap();
    engine.run_ticks(2).unwrap();
    let ticks = &engine.world().resource::<Ticks>().0;
    assert_eq!(
        ticks,
        &[(0, Duration::ZERO), (0, Duration::ZERO), (1, 10 * MS)]
    );
}

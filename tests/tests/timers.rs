//! Timers through the public API: when they fire, in which order, cancel, remaining ticks,
//! pause/step, very long delays, many pending timers, and identical runs for any thread count.

use std::time::Duration;

use tickbus::prelude::*;
use tickbus::timer::{TimerAppExt, TimerFired, TimerHandle, TimerWheel, Timers};

/// Every firing seen by a reader: (tick read, due tick, handle, payload).
#[derive(Resource, Default)]
struct Fired(Vec<(u64, u64, TimerHandle, u32)>);

fn record(fired: EventReader<TimerFired<u32>>, time: Res<SimTime>, mut log: ResMut<Fired>) {
    let now = time.tick();
    log.0
        .extend(fired.iter().map(|f| (now, f.tick, f.handle, f.payload)));
}

fn app_with(executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor)
        .set_tick_length(Duration::from_millis(10))
        .add_timers::<u32>()
        .init_resource::<Fired>()
        .add_systems(record);
    app
}

fn app() -> App {
    app_with(ExecutorKind::Sequential)
}

/// (tick read, payload) pairs of the run.
fn fired(engine: &Engine) -> Vec<(u64, u32)> {
    let log = &engine.world().resource::<Fired>().0;
    log.iter()
        .map(|&(now, _, _, payload)| (now, payload))
        .collect()
}

/// A system that runs `f` with the timers param in tick `at` only.
fn at_tick(
    at: u64,
    f: impl Fn(&mut Timers<u32>) + Send + Sync + 'static,
) -> impl FnMut(Timers<u32>, Res<SimTime>) {
    move |mut timers: Timers<u32>, time: Res<SimTime>| {
        if time.tick() == at {
            f(&mut timers);
        }
    }
}

#[test]
fn a_delay_of_k_ticks_from_tick_n_is_readable_in_tick_n_plus_k_only() {
    let mut app = app();
    app.add_systems(at_tick(2, |t| {
        t.once_after_ticks(3, 1);
        t.once_after_ticks(1, 2);
        t.once_after_ticks(0, 3);
    }));
    let mut engine = app.build().unwrap();
    engine.run_ticks(10).unwrap();
    assert_eq!(fired(&engine), vec![(3, 2), (3, 3), (5, 1)]);
    let log = &engine.world().resource::<Fired>().0;
    assert!(log.iter().all(|&(now, due, _, _)| now == due));
}

#[test]
fn durations_are_rounded_up_to_whole_ticks() {
    let mut app = app();
    app.add_systems(at_tick(0, |t| {
        t.once_after(Duration::from_millis(25), 25); // 2.5 ticks -> 3
        t.once_after(Duration::from_millis(20), 20); // exactly 2
        t.once_after(Duration::ZERO, 0); // never the same tick
    }));
    let mut engine = app.build().unwrap();
    engine.run_ticks(6).unwrap();
    assert_eq!(fired(&engine), vec![(1, 0), (2, 20), (3, 25)]);
}

#[test]
fn same_tick_timers_fire_in_creation_order_registration_then_call_order() {
    let mut app = app();
    // Registered first, so created first, although its calls come in "reverse" payload order.
    app.add_systems(at_tick(0, |t| {
        t.once_after_ticks(4, 10);
        t.once_after_ticks(4, 11);
        t.once_after_ticks(5, 12);
    }));
    app.add_systems(at_tick(0, |t| {
        t.once_after_ticks(4, 20);
        t.once_after_ticks(3, 21);
    }));
    // Created a tick later but due in the same tick 4: after every timer of tick 0.
    app.add_systems(at_tick(1, |t| {
        t.once_after_ticks(3, 30);
    }));
    let mut engine = app.build().unwrap();
    engine.run_ticks(8).unwrap();
    assert_eq!(
        fired(&engine),
        vec![(3, 21), (4, 10), (4, 11), (4, 20), (4, 30), (5, 12)]
    );
}

#[test]
fn a_timer_created_and_cancelled_in_the_same_tick_never_fires() {
    let mut app = app();
    app.add_systems(at_tick(1, |t| {
        let doomed = t.once_after_ticks(1, 1);
        let kept = t.once_after_ticks(1, 2);
        let repeating = t.repeat_every_ticks(1, 3);
        t.cancel(doomed);
        t.cancel(repeating);
        assert_eq!(t.remaining_ticks(doomed), None);
        assert_eq!(t.remaining_ticks(kept), Some(1));
    }));
    let mut engine = app.build().unwrap();
    engine.run_ticks(6).unwrap();
    assert_eq!(fired(&engine), vec![(2, 2)]);
    assert!(engine.world().resource::<TimerWheel<u32>>().is_empty());
}

/// Handles created in tick 0, shared with the systems that cancel and query them later.
#[derive(Resource, Default)]
struct Handles(Vec<TimerHandle>);

/// (tick, remaining ticks of every stored handle) as seen from a system.
#[derive(Resource, Default)]
struct Remaining(Vec<(u64, Vec<Option<u64>>)>);

fn create(mut timers: Timers<u32>, mut handles: ResMut<Handles>) {
    handles.0.push(timers.once_after_ticks(3, 1));
    handles.0.push(timers.repeat_every_ticks(2, 2));
}

fn cancel_repeating_in_tick_5(mut timers: Timers<u32>, time: Res<SimTime>, handles: Res<Handles>) {
    if time.tick() == 5 {
        timers.cancel(handles.0[1]);
        assert_eq!(
            timers.remaining_ticks(handles.0[1]),
            None,
            "own cancel shows"
        );
    }
}

fn query(
    timers: Timers<u32>,
    time: Res<SimTime>,
    handles: Res<Handles>,
    mut out: ResMut<Remaining>,
) {
    let remaining = handles
        .0
        .iter()
        .map(|&h| timers.remaining_ticks(h))
        .collect();
    out.0.push((time.tick(), remaining));
}

#[test]
fn cancel_stops_a_repeating_timer_and_remaining_ticks_counts_down() {
    let mut app = app();
    app.init_resource::<Handles>()
        .init_resource::<Remaining>()
        .add_startup_systems(create)
        .add_systems(cancel_repeating_in_tick_5)
        .add_systems(query.after(cancel_repeating_in_tick_5));
    let mut engine = app.build().unwrap();
    engine.run_ticks(10).unwrap();
    // Repeating: due 2, 4, 6 … but cancelled in tick 5, so 2 and 4 only.
    assert_eq!(fired(&engine), vec![(2, 2), (3, 1), (4, 2)]);
    let remaining = &engine.world().resource::<Remaining>().0;
    let expected = [
        (1, [Some(2), Some(1)]),
        (2, [Some(1), Some(2)]), // the repeating one fired in tick 2 and is due again in 4
        (3, [None, Some(1)]),    // the one-shot fired in tick 3
        (4, [None, Some(2)]),
        (5, [None, Some(1)]), // another system's cancel of this tick shows from tick 6
        (6, [None, None]),
    ];
    for (tick, want) in expected {
        assert_eq!(
            remaining[tick as usize],
            (tick, want.to_vec()),
            "tick {tick}"
        );
    }
}

#[test]
fn repeating_timers_count_ticks_across_pause_and_single_steps() {
    let mut app = app();
    app.add_systems(at_tick(0, |t| {
        t.repeat_every(Duration::from_millis(30), 7);
    }));
    let mut engine = app.build().unwrap();
    let clock = ManualClock::new();
    let ms = Duration::from_millis(1);
    engine.frame(&clock).unwrap(); // starts the clock
    clock.advance(40 * ms);
    assert_eq!(engine.frame(&clock).unwrap().ticks, 4); // ticks 0..=3: fired in 3
    engine.fixed_step_mut().pause();
    clock.advance(1000 * ms);
    assert_eq!(engine.frame(&clock).unwrap().ticks, 0, "paused: no tick");
    assert_eq!(fired(&engine), vec![(3, 7)]);
    for _ in 0..3 {
        engine.fixed_step_mut().step();
        clock.advance(1000 * ms);
        assert_eq!(engine.frame(&clock).unwrap().ticks, 1);
    }
    assert_eq!(
        fired(&engine),
        vec![(3, 7), (6, 7)],
        "ticks 4, 5, 6 stepped"
    );
    engine.fixed_step_mut().resume();
    clock.advance(30 * ms);
    assert_eq!(engine.frame(&clock).unwrap().ticks, 3);
    assert_eq!(fired(&engine), vec![(3, 7), (6, 7), (9, 7)]);
}

#[test]
fn very_long_delays_neither_fire_early_nor_overflow() {
    let mut app = app();
    app.init_resource::<Handles>()
        .init_resource::<Remaining>()
        .add_startup_systems(|mut timers: Timers<u32>, mut handles: ResMut<Handles>| {
            handles.0.push(timers.once_after_ticks(u64::MAX, 1));
            handles.0.push(timers.repeat_every(Duration::MAX, 2));
            handles.0.push(timers.once_after_ticks(1 << 40, 3));
        })
        .add_systems(query);
    let mut engine = app.build().unwrap();
    engine.run_ticks(50).unwrap();
    assert!(fired(&engine).is_empty());
    let (tick, last) = engine
        .world()
        .resource::<Remaining>()
        .0
        .last()
        .unwrap()
        .clone();
    assert_eq!(tick, 49);
    // Due ticks saturate at u64::MAX.
    assert_eq!(
        last,
        vec![
            Some(u64::MAX - 49),
            Some(u64::MAX - 49),
            Some((1 << 40) - 49)
        ]
    );
    assert_eq!(engine.world().resource::<TimerWheel<u32>>().len(), 3);
}

#[test]
fn a_hundred_thousand_pending_timers_fire_on_time_and_in_order() {
    const N: u32 = 100_000;
    let mut app = app();
    app.add_systems(at_tick(0, |t| {
        for i in 0..N {
            // Due in ticks 5..=14, interleaved, plus one far in the future per ten.
            let delay = if i % 10 == 9 {
                1_000_000
            } else {
                5 + u64::from(i % 10)
            };
            t.once_after_ticks(delay, i);
        }
    }));
    let mut engine = app.build().unwrap();
    engine.run_ticks(5).unwrap();
    assert!(fired(&engine).is_empty());
    assert_eq!(
        engine.world().resource::<TimerWheel<u32>>().len(),
        N as usize
    );
    engine.run_ticks(15).unwrap();
    let got = fired(&engine);
    assert_eq!(got.len(), 90_000);
    let mut expected: Vec<(u64, u32)> = (0..N)
        .filter(|i| i % 10 != 9)
        .map(|i| (5 + u64::from(i % 10), i))
        .collect();
    expected.sort();
    assert_eq!(got, expected, "by due tick, then creation order");
    assert_eq!(engine.world().resource::<TimerWheel<u32>>().len(), 10_000);
}

/// Several systems schedule and cancel timers from a per-system pseudo-random sequence.
fn chaotic(seed: u64) -> impl FnMut(Timers<u32>, Res<SimTime>, Local<Vec<TimerHandle>>) {
    move |mut timers: Timers<u32>, time: Res<SimTime>, mut mine: Local<Vec<TimerHandle>>| {
        let mut x = seed
            .wrapping_add(time.tick())
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for _ in 0..8 {
            x ^= x >> 29;
            x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let delay = x % 7;
            let handle = match x % 3 {
                0 => timers.repeat_every_ticks(1 + x % 4, (x >> 40) as u32),
                _ => timers.once_after_ticks(delay, (x >> 40) as u32),
            };
            mine.push(handle);
            if x % 5 == 1 {
                let victim = mine[(x >> 20) as usize % mine.len()];
                timers.cancel(victim);
            }
        }
    }
}

fn chaotic_run(executor: ExecutorKind) -> Vec<(u64, u64, TimerHandle, u32)> {
    let mut app = app_with(executor);
    for seed in 0..6 {
        app.add_systems(chaotic(seed));
    }
    let mut engine = app.build().unwrap();
    engine.run_ticks(40).unwrap();
    std::mem::take(&mut engine.world_mut().resource_mut::<Fired>().0)
}

#[test]
fn handles_and_firings_are_identical_for_any_thread_count() {
    let reference = chaotic_run(ExecutorKind::Sequential);
    assert!(
        reference.len() > 500,
        "the scenario fires plenty: {}",
        reference.len()
    );
    for threads in [1, 2, 4, 8] {
        for _ in 0..3 {
            assert_eq!(
                chaotic_run(ExecutorKind::parallel(threads)),
                reference,
                "{threads} threads"
            );
        }
    }
}

#[test]
fn timers_without_add_timers_fail_with_an_error_naming_the_system() {
    fn forgetful(mut timers: Timers<u64>) {
        timers.once_after_ticks(1, 1);
    }
    let mut app = App::new();
    app.add_systems(forgetful);
    let mut engine = app.build().unwrap();
    let error = engine.run_ticks(1).unwrap_err().to_string();
    assert!(
        error.contains("forgetful") && error.contains("Resource does not exist"),
        "{error}"
    );
}

#[test]
fn tick_stats_count_the_timers_fired() {
    let mut app = app();
    app.add_systems(at_tick(0, |t| {
        t.once_after_ticks(2, 1);
        t.once_after_ticks(2, 2);
        t.once_after_ticks(3, 3);
    }));
    let mut engine = app.build().unwrap();
    let fired_per_tick: Vec<usize> = (0..5)
        .map(|_| engine.tick().unwrap().timers[0].collected)
        .collect();
    assert_eq!(fired_per_tick, vec![0, 0, 2, 1, 0]);
}

/// Removing the timer wheel between ticks drops the timers it held, and the engine goes on:
/// the wheel comes back empty, and timers created after that fire on time.
#[test]
fn a_removed_wheel_comes_back_empty_and_later_timers_fire() {
    let mut app = app();
    app.add_systems(at_tick(1, |t| {
        t.once_after_ticks(5, 1);
    }))
    .add_systems(at_tick(3, |t| {
        t.once_after_ticks(2, 2);
    }));
    let mut engine = app.build().unwrap();
    // Tick 1's request reaches the wheel when tick 2 collects it.
    engine.run_ticks(3).unwrap();
    let removed = engine.world_mut().remove_resource::<TimerWheel<u32>>();
    assert_eq!(
        removed.map(|wheel| wheel.len()),
        Some(1),
        "timer 1 was waiting"
    );
    engine.run_ticks(7).unwrap();
    // Timer 1 (due in tick 6) went with the wheel; timer 2, created in tick 3, fires in 5.
    assert_eq!(fired(&engine), vec![(5, 2)]);
}

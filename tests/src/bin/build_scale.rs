//! Measures building and ticking large schedules, for the figures in RELIABILITY.md
//! (section 8). Run in release:
//!
//! ```text
//! cargo build --release -p tickbus-tests --bin build_scale
//! target/release/build_scale conflicting 10000   # systems that all write one resource
//! target/release/build_scale independent 10000   # systems that touch nothing in common
//! target/release/build_scale ladder 60           # sets nested two ways at every level
//! ```
//!
//! Prints the build time, the heap bytes the engine holds after building, the peak heap
//! during the build (over all threads, counted by this binary's allocator), the edges of
//! the plan, and the time per tick on the sequential and the parallel executor.

use std::time::{Duration, Instant};

use tickbus::{ExecutorKind, prelude::*};
use tickbus_tests::{
    alloc_count::{Counting, live_bytes, peak_live_bytes, reset_peak},
    build_scale::{conflicting_app, independent_app, ladder_app},
};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "conflicting".to_owned());
    let size: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    for executor in [ExecutorKind::Sequential, ExecutorKind::parallel(2)] {
        let app = match kind.as_str() {
            "independent" => independent_app(size, executor),
            "ladder" => ladder_app(size, executor),
            _ => conflicting_app(size, executor),
        };
        let before = live_bytes();
        reset_peak();
        let started = Instant::now();
        let mut engine = app.build().expect("builds");
        let build = started.elapsed();
        let held = live_bytes() - before;
        let peak = peak_live_bytes() - before;
        let edges = engine.schedule_plan().edges.len();
        let per_tick = time_per_tick(&mut engine);
        println!(
            "{kind} {size} on {executor:?}: build {build:.3?}, engine holds {:.1} MiB (peak {:.1} MiB \
             while building), {edges} edges, {per_tick:.1?} per tick",
            mib(held),
            mib(peak),
        );
    }
}

fn mib(bytes: isize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The mean of 200 ticks after 20 of warm-up.
fn time_per_tick(engine: &mut Engine) -> Duration {
    engine.run_ticks(20).expect("ticks");
    let started = Instant::now();
    engine.run_ticks(200).expect("ticks");
    started.elapsed() / 200
}

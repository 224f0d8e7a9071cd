//! A thread sends input events through a channel source while the loop runs in real time;
//! the per-tick counters show the budget at work.
//!
//! Run with: `cargo run --release -p tickbus --example producer_thread`
//! (`-- --ticks N --budget B` to change the run.)

use std::{ops::ControlFlow, thread, time::Duration};

use tickbus::prelude::*;

/// A key press from the "keyboard" thread.
#[derive(Debug, Clone, Copy)]
struct KeyPress {
    code: u32,
}

/// Keys handled so far, and the last one.
#[derive(Resource, Default)]
struct Handled {
    count: u64,
    last: Option<u32>,
}

fn handle_keys(keys: EventReader<KeyPress>, mut handled: ResMut<Handled>) {
    handled.count += keys.len() as u64;
    if let Some(key) = keys.iter().last() {
        handled.last = Some(key.code);
    }
}

struct Options {
    ticks: u64,
    budget: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        ticks: 120,
        budget: 8,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |what: &str| {
            value
                .parse()
                .map_err(|_| format!("{what}: expected a number, got {value:?}"))
        };
        match flag.as_str() {
            "--ticks" => options.ticks = number("--ticks")?,
            "--budget" => options.budget = number("--budget")? as usize,
            "--help" | "-h" => return Err("usage: producer_thread [--ticks N] [--budget B]".into()),
            other => return Err(format!("unknown option {other}; try --help")),
        }
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options()?;
    let mut app = App::new();
    app.set_tick_rate(120)
        .init_resource::<Handled>()
        .add_systems(handle_keys);
    let keys = app.add_source::<KeyPress>(SourceConfig::bounded(1024).budget(options.budget));
    let mut engine = app.build()?;

    // A bursty producer: 40 keys at once, then a pause.
    let producer = thread::spawn(move || {
        for burst in 0u32.. {
            let batch = (0..40)
                .map(|i| KeyPress {
                    code: burst * 40 + i,
                })
                .collect();
            if keys.send_batch(batch).is_err() {
                return; // the engine is gone: stop producing
            }
            thread::sleep(Duration::from_millis(150));
        }
    });

    println!("tick  collected  backlog  handled");
    let clock = RealClock::new();
    let ticks = options.ticks;
    engine.run(&clock, |engine, frame| {
        if frame.ticks > 0 {
            let source = engine.stats().sources[0];
            let handled = engine.world().resource::<Handled>();
            if source.collected > 0 || source.backlog > 0 {
                println!(
                    "{:>4}  {:>9}  {:>7}  {:>7}",
                    engine.tick_count(),
                    source.collected,
                    source.backlog,
                    handled.count
                );
            }
        }
        if engine.tick_count() >= ticks {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    let handled = engine.world().resource::<Handled>();
    println!(
        "{} keys handled in {} ticks, last key {:?}",
        handled.count,
        engine.tick_count(),
        handled.last
    );
    drop(engine);
    producer
        .join()
        .map_err(|_| "the producer thread panicked")?;
    Ok(())
}

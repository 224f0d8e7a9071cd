//! The smallest tickbus program: one event type, a writer and two readers through the loop,
//! printing what each tick saw.
//!
//! Run with: `cargo run -p tickbus --example minimal`

use tickbus::prelude::*;

/// A player pressed fire; `shot` counts shots.
#[derive(Debug, Clone, Copy)]
struct Fire {
    shot: u32,
}

/// Writes one `Fire` every other tick. What it writes in tick N is readable in tick N + 1.
fn trigger(mut fire: EventWriter<Fire>, time: Res<SimTime>) {
    if time.tick().is_multiple_of(2) {
        fire.send(Fire {
            shot: time.tick() as u32 / 2,
        });
    }
}

/// First reader: prints every event it sees.
fn announcer(fire: EventReader<Fire>, time: Res<SimTime>) {
    for event in &fire {
        println!("tick {:>2}  announcer: shot #{}", time.tick(), event.shot);
    }
}

/// How many shots the scoreboard has seen.
#[derive(Resource, Default)]
struct Shots(u32);

/// Second reader: counts. Readers take shared access only, so both run in the same tick.
fn scoreboard(fire: EventReader<Fire>, mut shots: ResMut<Shots>, time: Res<SimTime>) {
    shots.0 += fire.len() as u32;
    println!(
        "tick {:>2}  scoreboard: {} event(s), {} total",
        time.tick(),
        fire.len(),
        shots.0
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut app = App::new();
    app.add_event::<Fire>()
        .init_resource::<Shots>()
        .add_systems(trigger)
        .add_systems(announcer)
        .add_systems(scoreboard);
    let mut engine = app.build()?;
    println!("{}", engine.schedule_plan());
    for _ in 0..6 {
        let stats = engine.tick()?;
        let queue = stats.queue("Fire").unwrap_or_default();
        println!(
            "tick {:>2}  queue: {} readable, {} written for next tick\n",
            stats.tick, queue.readable, queue.written
        );
    }
    Ok(())
}

//! Regenerates the golden particle scenario, `scenarios/particles.ron`, then replays it on
//! every executor as a check; with `--replay`, only replays the file on disk (to measure
//! replay speed, for example in release mode). `--speed N` then replays the file N times on
//! the sequential and the default executor, interleaved, and prints the median and the best
//! ticks per second of each (one replay takes a few tens of milliseconds: single runs are
//! noise; on a busy machine the best is the steadier figure).
//!
//! ```text
//! cargo run -p tickbus-tests --example record_particles             # regenerate
//! cargo run -p tickbus-tests --example record_particles -- --replay # replay only
//! cargo run --release -p tickbus-tests --example record_particles -- --replay --speed 31
//! ```
//!
//! Regenerate only after a deliberate change to the particle game or the engine's semantics.

use tickbus::{
    ExecutorKind,
    replay::{GameScenario, Replayer, Scenario},
};
use tickbus_tests::{
    particles::Particles,
    scenario_support::{GoldenParticles, executors, scenarios_dir},
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = scenarios_dir().join(GoldenParticles::FILE);
    let scenario = if std::env::args().any(|arg| arg == "--replay") {
        Scenario::load::<Particles>(&path)?
    } else {
        let scenario = GoldenParticles::record();
        scenario.save(&path)?;
        println!("wrote {}", path.display());
        scenario
    };
    println!(
        "{} ticks, {} inputs, {} checkpoints",
        scenario.ticks,
        scenario.inputs.len(),
        scenario.checkpoints.len()
    );
    replay_everywhere(&scenario)?;
    if let Some(rounds) = speed_rounds() {
        compare_speed(&scenario, rounds)?;
    }
    Ok(())
}

/// The number after `--speed`, if given.
fn speed_rounds() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|arg| arg == "--speed")?;
    args.get(at + 1).and_then(|n| n.parse().ok())
}

/// Median ticks per second of `rounds` interleaved replays on the sequential and the
/// default executor.
fn compare_speed(
    scenario: &GameScenario<Particles>,
    rounds: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let executors = [ExecutorKind::Sequential, ExecutorKind::default()];
    let mut speeds = [Vec::new(), Vec::new()];
    for round in 0..rounds.max(1) {
        // Alternate which goes first: the second of two back-to-back replays is measurably
        // slower on a busy machine.
        for which in [round % 2, 1 - round % 2] {
            let report = Replayer::<Particles>::new(scenario)
                .executor(executors[which])
                .run()?;
            let speeds = &mut speeds[which];
            speeds.push(report.ticks_per_second());
        }
    }
    for speeds in &mut speeds {
        speeds.sort_by(f64::total_cmp);
    }
    let [sequential, default] = &speeds;
    let median = |speeds: &[f64]| speeds[speeds.len() / 2];
    let best = |speeds: &[f64]| speeds[speeds.len() - 1];
    println!(
        "{rounds} replays each, median: sequential {:.0} ticks/s, default executor {:.0} ticks/s ({:.2}x)",
        median(sequential),
        median(default),
        median(default) / median(sequential)
    );
    println!(
        "{rounds} replays each, best: sequential {:.0} ticks/s, default executor {:.0} ticks/s ({:.2}x)",
        best(sequential),
        best(default),
        best(default) / best(sequential)
    );
    Ok(())
}

fn replay_everywhere(scenario: &GameScenario<Particles>) -> Result<(), Box<dyn std::error::Error>> {
    let default = ExecutorKind::default();
    for executor in executors().into_iter().chain([default]) {
        let report = Replayer::<Particles>::new(scenario)
            .executor(executor)
            .run()?;
        println!("{executor:?}: {report}");
        if !report.is_verified() {
            return Err(format!("the scenario does not replay on {executor:?}").into());
        }
    }
    Ok(())
}

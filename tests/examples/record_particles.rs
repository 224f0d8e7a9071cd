//! Regenerates the golden particle scenario, `scenarios/particles.ron`, then replays it on
//! every executor as a check; with `--replay`, only replays the file on disk (to measure
//! replay speed, for example in release mode).
//!
//! ```text
//! cargo run -p tickbus-tests --example record_particles             # regenerate
//! cargo run -p tickbus-tests --example record_particles -- --replay # replay only
//! ```
//!
//! Regenerate only after a deliberate change to the particle game or the engine's semantics.

use tickbus::replay::{GameScenario, Replayer, Scenario};
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
    replay_everywhere(&scenario)
}

fn replay_everywhere(scenario: &GameScenario<Particles>) -> Result<(), Box<dyn std::error::Error>> {
    let default = tickbus::ExecutorKind::default();
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

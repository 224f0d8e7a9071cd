//! Regenerates the golden particle scenario, `scenarios/particles.ron`, then replays it once
//! on every executor as a check.
//!
//! Run it after a deliberate change to the particle game or the engine's semantics:
//!
//! ```text
//! cargo run -p tickbus-tests --example record_particles
//! ```

use tickbus::replay::Replayer;
use tickbus_tests::{
    particles::Particles,
    scenario_support::{GoldenParticles, executors, scenarios_dir},
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = GoldenParticles::record();
    let path = scenarios_dir().join(GoldenParticles::FILE);
    scenario.save(&path)?;
    println!(
        "wrote {}: {} ticks, {} inputs, {} checkpoints",
        path.display(),
        scenario.ticks,
        scenario.inputs.len(),
        scenario.checkpoints.len()
    );
    for executor in executors() {
        let report = Replayer::<Particles>::new(&scenario)
            .executor(executor)
            .run()?;
        println!("{executor:?}: {report}");
        if !report.is_verified() {
            return Err(format!("the new scenario does not replay on {executor:?}").into());
        }
    }
    Ok(())
}

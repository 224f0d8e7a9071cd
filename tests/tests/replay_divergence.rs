//! A deliberately changed system (an off-by-one in `Bounces` at tick 500) makes the replay
//! report the right tick range and the right component type, and per-tick checkpoints
//! narrow it to the tick itself.

use tickbus::{
    ExecutorKind,
    replay::{Divergence, Recorder, Replayer, Scenario},
};
use tickbus_tests::{
    particles::{OFF_BY_ONE_TICK, Particles, ParticlesConfig, ParticlesOffByOne},
    scenario_support::{GoldenParticles, RecordSetup, random_inputs, record, scenarios_dir},
};

fn bounces_only() -> Vec<String> {
    vec!["Bounces".to_owned()]
}

#[test]
fn the_golden_file_diverges_in_the_checkpoint_interval_of_the_change() {
    let path = scenarios_dir().join(GoldenParticles::FILE);
    let scenario = Scenario::load::<ParticlesOffByOne>(&path).expect("the golden file loads");
    let report = Replayer::<ParticlesOffByOne>::new(&scenario)
        .executor(ExecutorKind::parallel(4))
        .run()
        .expect("the game builds");
    let every = GoldenParticles::CHECKPOINT_EVERY;
    let interval_start = OFF_BY_ONE_TICK / every * every;
    let Some(Divergence::State {
        tick,
        last_verified,
        components,
        ..
    }) = report.divergence.clone()
    else {
        panic!("expected a state divergence: {report}");
    };
    assert_eq!(tick, interval_start + every, "{report}");
    assert_eq!(last_verified, Some(interval_start));
    assert_eq!(components, bounces_only());
    let ticks = report.divergence.as_ref().map(Divergence::ticks);
    assert!(ticks.is_some_and(|ticks| ticks.contains(&OFF_BY_ONE_TICK)));
    // Everything before the change verified; the replay stopped at the divergence.
    assert_eq!(
        report.checkpoints_verified as u64,
        interval_start / every + 1
    );
    assert_eq!(report.ticks_run, tick);
    assert!(!report.is_verified());
}

#[test]
fn per_tick_checkpoints_name_the_exact_tick() {
    let setup = RecordSetup {
        seed: 11,
        ticks: OFF_BY_ONE_TICK + 20,
        checkpoint_every: 1,
        executor: ExecutorKind::Sequential,
    };
    let inputs = random_inputs(3, setup.ticks, 30);
    let (scenario, result) = record::<Particles>(&ParticlesConfig::default(), &setup, &inputs);
    result.expect("the original game does not crash");
    assert_eq!(scenario.checkpoints.len() as u64, setup.ticks + 1);

    let report = Replayer::<ParticlesOffByOne>::new(&scenario)
        .executor(ExecutorKind::parallel(2))
        .run()
        .expect("the game builds");
    let divergence = report.divergence.expect("the change is caught");
    assert_eq!(divergence.first_divergent_tick(), Some(OFF_BY_ONE_TICK));
    let Divergence::State { components, .. } = divergence else {
        panic!("expected a state divergence: {divergence}");
    };
    assert_eq!(components, bounces_only());
}

#[test]
fn rerecording_the_golden_file_per_tick_narrows_its_divergence_to_the_tick() {
    let path = scenarios_dir().join(GoldenParticles::FILE);
    let golden = Scenario::load::<Particles>(&path).expect("the golden file loads");
    let per_tick = Recorder::<Particles>::rerecord(&golden, 1, ExecutorKind::parallel(2))
        .expect("the golden file is playable");
    assert_eq!(per_tick.inputs, golden.inputs);
    assert_eq!(per_tick.checkpoints.len() as u64, golden.ticks + 1);
    for checkpoint in &golden.checkpoints {
        assert_eq!(&per_tick.checkpoints[checkpoint.tick as usize], checkpoint);
    }

    let report = Replayer::<ParticlesOffByOne>::new(&per_tick)
        .run()
        .expect("the game builds");
    let divergence = report.divergence.expect("the change is caught");
    assert_eq!(divergence.first_divergent_tick(), Some(OFF_BY_ONE_TICK));
}

#[test]
fn the_unchanged_game_verifies_the_same_recording() {
    // The control for the two tests above: without the change, nothing diverges.
    let setup = RecordSetup {
        seed: 11,
        ticks: OFF_BY_ONE_TICK + 20,
        checkpoint_every: 10,
        executor: ExecutorKind::parallel(2),
    };
    let inputs = random_inputs(3, setup.ticks, 30);
    let (scenario, result) = record::<Particles>(&ParticlesConfig::default(), &setup, &inputs);
    result.expect("no crash");
    let report = Replayer::<Particles>::new(&scenario)
        .executor(ExecutorKind::Sequential)
        .run()
        .expect("the game builds");
    assert!(report.is_verified(), "{report}");
}

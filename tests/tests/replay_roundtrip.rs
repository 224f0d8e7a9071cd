//! Record with random inputs, save, load, replay: every checkpoint verifies, and the file
//! holds exactly what was recorded (floats included, bit for bit).

use proptest::prelude::*;
use tickbus::{
    ExecutorKind,
    replay::{Replayer, Scenario},
};
use tickbus_tests::{
    particles::{Particles, ParticlesConfig},
    scenario_support::{RecordSetup, random_inputs, record},
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn recorded_runs_replay_after_a_round_trip_through_a_file(
        seed in any::<u64>(),
        input_seed in any::<u64>(),
        ticks in 60u64..240,
        checkpoint_every in 1u64..50,
        gap in 1u64..20,
        recorded_on in prop::sample::select(vec![1usize, 2, 4]),
    ) {
        let setup = RecordSetup {
            seed,
            ticks,
            checkpoint_every,
            executor: ExecutorKind::parallel(recorded_on),
        };
        let inputs = random_inputs(input_seed, ticks, gap);
        let (scenario, result) = record::<Particles>(&ParticlesConfig::default(), &setup, &inputs);
        prop_assert!(result.is_ok());
        // Every input was recorded at the tick it was sent for.
        prop_assert_eq!(&scenario.inputs, &inputs);
        prop_assert_eq!(scenario.ticks, ticks);
        let expected_checkpoints = ticks / checkpoint_every + 1 + u64::from(ticks % checkpoint_every != 0);
        prop_assert_eq!(scenario.checkpoints.len() as u64, expected_checkpoints);

        let path = std::env::temp_dir().join(format!("tickbus-roundtrip-{}-{seed}.ron", std::process::id()));
        scenario.save(&path).unwrap();
        let loaded = Scenario::load::<Particles>(&path);
        std::fs::remove_file(&path).ok();
        let loaded = loaded.unwrap();
        prop_assert_eq!(&loaded, &scenario);

        let report = Replayer::<Particles>::new(&loaded)
            .executor(ExecutorKind::Sequential)
            .run()
            .unwrap();
        prop_assert!(report.is_verified(), "{}", report);
        prop_assert_eq!(report.ticks_run, ticks);
        prop_assert_eq!(report.checkpoints_verified, scenario.checkpoints.len());
    }
}

#[test]
fn a_different_seed_gives_a_different_run() {
    // The control for the round trip: checkpoints do depend on the seed.
    let run = |seed| {
        let setup = RecordSetup {
            seed,
            ticks: 30,
            checkpoint_every: 30,
            executor: ExecutorKind::Sequential,
        };
        let (scenario, _) = record::<Particles>(&ParticlesConfig::default(), &setup, &[]);
        scenario
            .checkpoints
            .last()
            .map(|checkpoint| checkpoint.hash)
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

proptest! {
    /// RON keeps every finite float bit for bit (signed zeros and subnormals included).
    #[test]
    fn finite_floats_survive_the_file_bit_for_bit(
        x in any::<f32>().prop_filter("finite", |x| x.is_finite()),
        y in prop::sample::select(vec![0.0f32, -0.0, f32::MIN_POSITIVE / 3.0, f32::MAX, -1e-45]),
    ) {
        let scenario: tickbus::replay::GameScenario<Particles> = Scenario {
            format_version: tickbus::replay::FORMAT_VERSION,
            game: "particles".to_owned(),
            seed: 0,
            tick_rate: 60,
            ticks: 1,
            config: ParticlesConfig { arena: x, ..ParticlesConfig::default() },
            inputs: vec![tickbus::replay::TimedInput {
                tick: 0,
                event: tickbus_tests::particles::ParticleInput::Wind(glam::Vec2::new(x, y)),
            }],
            checkpoints: Vec::new(),
            crash: None,
            composition: None,
            branched_from: None,
            entity_scheme: Default::default(),
        };
        let loaded = Scenario::parse::<Particles>(&scenario.to_ron().unwrap(), "floats").unwrap();
        let tickbus_tests::particles::ParticleInput::Wind(wind) = loaded.inputs[0].event else {
            panic!("the input changed kind");
        };
        prop_assert_eq!((wind.x.to_bits(), wind.y.to_bits()), (x.to_bits(), y.to_bits()));
        prop_assert_eq!(loaded.config.arena.to_bits(), x.to_bits());
    }
}

#[test]
fn a_real_time_recording_replays_exactly() {
    use std::time::Duration;
    use tickbus::{ManualClock, replay::Recorder};
    use tickbus_tests::particles::ParticleInput;

    let mut recorder = Recorder::<Particles>::builder(ParticlesConfig::default())
        .seed(3)
        .checkpoint_every(7)
        .executor(ExecutorKind::parallel(2))
        .build()
        .unwrap();
    let clock = ManualClock::new();
    let input = recorder.input();
    // Uneven frames: some run no tick, some several; inputs arrive between frames.
    for frame in 0..40u32 {
        if frame % 3 == 0 {
            input
                .send(ParticleInput::Wind(glam::Vec2::new(frame as f32, 1.0)))
                .unwrap();
        }
        clock.advance(Duration::from_millis(u64::from(5 + frame % 4 * 11)));
        recorder.frame(&clock).unwrap();
    }
    let scenario = recorder.scenario();
    assert!(scenario.ticks > 20, "{} ticks", scenario.ticks);
    assert_eq!(scenario.inputs.len(), 14);
    let report = Replayer::<Particles>::new(&scenario)
        .executor(ExecutorKind::Sequential)
        .run()
        .unwrap();
    assert!(report.is_verified(), "{report}");
}

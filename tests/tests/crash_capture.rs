//! A panic in a recorded run names the system and the tick; the recording up to that tick is
//! a scenario that reproduces the panic on replay, on every executor.

use glam::Vec2;
use tickbus::{
    ExecutorKind, ExecutorTotals, TickError,
    replay::{Divergence, GameScenario, RecordedCrash, Replayer, Scenario, TimedInput},
};
use tickbus_tests::{
    overlap::must_overlap,
    particles::{FRAGILE_BURST_LIMIT, FragileParticles, ParticleInput, Particles, ParticlesConfig},
    scenario_support::{RecordSetup, executors, random_inputs, record},
};

const CRASH_TICK: u64 = 37;

/// Random inputs plus one burst over the fragile game's limit at [`CRASH_TICK`].
fn inputs_with_a_big_burst() -> Vec<TimedInput<ParticleInput>> {
    let mut inputs = random_inputs(5, 120, 10);
    let big = TimedInput {
        tick: CRASH_TICK,
        event: ParticleInput::Burst {
            at: Vec2::ZERO,
            count: FRAGILE_BURST_LIMIT + 1,
        },
    };
    let at = inputs.partition_point(|input| input.tick <= CRASH_TICK);
    inputs.insert(at, big);
    inputs
}

fn setup() -> RecordSetup {
    RecordSetup {
        seed: 99,
        ticks: 120,
        checkpoint_every: 10,
        executor: ExecutorKind::parallel(4),
    }
}

fn record_crash() -> (GameScenario<FragileParticles>, TickError) {
    let config = ParticlesConfig::default();
    let (scenario, result) =
        record::<FragileParticles>(&config, &setup(), &inputs_with_a_big_burst());
    (
        scenario,
        result.expect_err("the big burst crashes the fragile game"),
    )
}

#[test]
fn the_error_names_the_system_and_the_tick() {
    let (scenario, error) = record_crash();
    assert!(matches!(error, TickError::SystemPanicked { .. }), "{error}");
    assert_eq!(error.system(), "refuse_big_bursts");
    assert_eq!(error.tick(), CRASH_TICK);
    assert!(error.to_string().contains("over the limit"), "{error}");
    assert_eq!(scenario.ticks, CRASH_TICK + 1);
    assert_eq!(scenario.crash, Some(RecordedCrash::from(&error)));
    // Checkpoints before the crash only; none of the crashed tick's partial state.
    assert_eq!(scenario.checkpoints.last().map(|c| c.tick), Some(30));
}

#[test]
fn the_saved_recording_reproduces_the_panic_on_every_executor() {
    let (scenario, error) = record_crash();
    let path = std::env::temp_dir().join(format!("tickbus-crash-{}.ron", std::process::id()));
    scenario.save(&path).expect("writable temp dir");
    let loaded = Scenario::load::<FragileParticles>(&path).expect("the saved crash loads");
    std::fs::remove_file(&path).ok();
    assert_eq!(loaded, scenario);
    let mut overlapped = ExecutorTotals::default();
    for executor in executors() {
        let report = Replayer::<FragileParticles>::new(&loaded)
            .executor(executor)
            .run()
            .expect("the game builds");
        assert!(report.crash_reproduced(), "{executor:?}: {report}");
        assert!(report.is_verified(), "{executor:?}: {report}");
        assert_eq!(report.crash.as_ref(), Some(&error));
        if must_overlap(executor) {
            overlapped.systems_on_workers += report.executor.systems_on_workers;
            overlapped.peak_running = overlapped.peak_running.max(report.executor.peak_running);
        }
    }
    // The replays on several threads really ran systems side by side (38 ticks each).
    assert!(overlapped.overlapped(), "{overlapped:?}");
}

#[test]
fn a_fixed_game_reports_the_crash_as_not_reproduced() {
    let (scenario, _) = record_crash();
    // `Particles` is the same game without the panicking check.
    let report = Replayer::<Particles>::new(&scenario)
        .executor(ExecutorKind::Sequential)
        .run()
        .expect("the game builds");
    assert!(!report.is_verified());
    let Some(Divergence::CrashNotReproduced { expected, found }) = report.divergence else {
        panic!("expected the missing crash to be reported: {report}");
    };
    assert_eq!(expected.tick, CRASH_TICK);
    assert_eq!(found, None);
}

#[test]
fn a_crash_the_recording_did_not_have_is_a_divergence() {
    let (scenario, result) = record::<Particles>(
        &ParticlesConfig::default(),
        &setup(),
        &inputs_with_a_big_burst(),
    );
    result.expect("the original game takes big bursts");
    let report = Replayer::<FragileParticles>::new(&scenario)
        .executor(ExecutorKind::parallel(2))
        .run()
        .expect("the game builds");
    let Some(Divergence::UnexpectedCrash(error)) = &report.divergence else {
        panic!("expected an unexpected crash: {report}");
    };
    assert_eq!(error.tick(), CRASH_TICK);
    assert_eq!(report.ticks_run, CRASH_TICK + 1);
}

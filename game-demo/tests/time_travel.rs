//! Time travel with the asteroids game: snapshots restore everything that shapes later ticks,
//! on every executor; seeking lands where a straight replay does; a branch verifies.

use std::path::PathBuf;

use game_demo::game::Asteroids;
use tickbus::{
    ExecutorKind,
    replay::{GameScenario, Replayer, Scenario, Timeline, verify_restore},
};

fn shipped(name: &str) -> GameScenario<Asteroids> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name);
    Scenario::load::<Asteroids>(&path).expect("the shipped scenario loads")
}

/// Sequential, the parallel executor offering every system to its workers on 1, 2, 4 and 8
/// threads, and the adaptive one on 2.
fn executors() -> Vec<ExecutorKind> {
    let mut kinds = vec![ExecutorKind::Sequential];
    kinds.extend([1, 2, 4, 8].map(ExecutorKind::forced_parallel));
    kinds.push(ExecutorKind::parallel(2));
    kinds
}

#[test]
fn restoring_and_running_on_equals_the_uninterrupted_run_on_every_executor() {
    let scenario = shipped("asteroids-smoke.ron");
    for executor in executors() {
        let check = verify_restore::<Asteroids>(&scenario, executor, 37).expect("it runs");
        assert!(check.is_ok(), "{executor:?}: {check}");
        assert!(check.snapshots >= 16, "{check:?}");
        assert_eq!(check.ticks_compared, scenario.ticks);
    }
}

/// The state hash after every tick of a straight replay (index = ticks run).
fn straight_hashes(scenario: &GameScenario<Asteroids>) -> Vec<u64> {
    let mut timeline = Timeline::<Asteroids>::open(scenario, ExecutorKind::Sequential).unwrap();
    let mut hashes = vec![timeline.hash().total];
    while timeline.tick() < timeline.end() {
        timeline.step().unwrap();
        hashes.push(timeline.hash().total);
    }
    hashes
}

#[test]
fn seeking_lands_on_the_state_of_a_straight_replay_for_random_ticks() {
    let scenario = shipped("asteroids-smoke.ron");
    let expected = straight_hashes(&scenario);
    let mut timeline = Timeline::<Asteroids>::open(&scenario, ExecutorKind::parallel(2)).unwrap();
    timeline.seek(scenario.ticks).unwrap();
    // A fixed-seed walk over the scenario, back and forth.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..40 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let tick = (state >> 33) % (scenario.ticks + 1);
        timeline.seek(tick).unwrap();
        assert_eq!(timeline.tick(), tick);
        assert_eq!(
            timeline.hash().total,
            expected[tick as usize],
            "tick {tick}"
        );
    }
    timeline.seek(100).unwrap();
    timeline.step_back().unwrap();
    assert_eq!(timeline.hash().total, expected[99]);
}

#[test]
fn a_branch_replays_and_verifies_like_any_scenario() {
    use game_demo::game::{Command, Control};
    let scenario = shipped("asteroids-smoke.ron");
    let mut timeline = Timeline::<Asteroids>::open(&scenario, ExecutorKind::Sequential).unwrap();
    timeline.seek(250).unwrap();
    let at_branch = timeline.hash().total;
    let mut branch = timeline.branch();
    let input = branch.input();
    for tick in 0..200 {
        if tick % 20 == 0 {
            input.send(Command::Down(Control::Fire)).unwrap();
        }
        if tick % 20 == 10 {
            input.send(Command::Up(Control::Fire)).unwrap();
        }
        branch.tick().unwrap();
    }
    let forked = branch.scenario();
    let point = forked
        .branched_from
        .clone()
        .expect("it says where it branched");
    assert_eq!((point.tick, point.hash), (250, at_branch));
    assert_eq!(forked.ticks, 450);
    assert!(forked.inputs.iter().any(|input| input.tick >= 250));
    let text = forked.to_ron().unwrap();
    let loaded = Scenario::parse::<Asteroids>(&text, "branch.ron").unwrap();
    for executor in [ExecutorKind::Sequential, ExecutorKind::parallel(4)] {
        let report = Replayer::<Asteroids>::new(&loaded)
            .executor(executor)
            .run()
            .unwrap();
        assert!(report.is_verified(), "{executor:?}: {report}");
    }
}

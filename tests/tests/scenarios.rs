//! Every file in `scenarios/` (the particle game's and the asteroids games recorded by
//! `game-demo record`) replays bit for bit under the sequential executor and the parallel
//! executor with 1, 2, 4 and 8 threads (where systems must really overlap); the golden
//! particle file is what its generator records today.

use std::path::Path;

use game_demo::game::Asteroids;
use tickbus::replay::{Game, ReplayReport, Replayer, Scenario, ScenarioInfo};
use tickbus_tests::{
    overlap::must_overlap,
    particles::Particles,
    scenario_support::{GoldenParticles, executors, scenarios_dir},
};

/// Replays `path` with the game it names, on every executor.
fn replay_everywhere(path: &Path) -> Vec<ReplayReport> {
    let info = ScenarioInfo::load(path).unwrap_or_else(|e| panic!("{e}"));
    match info.game.as_str() {
        Particles::NAME => replay_game_everywhere::<Particles>(path),
        Asteroids::NAME => replay_game_everywhere::<Asteroids>(path),
        other => panic!(
            "{}: no replayer for the game {other:?}; add it to tests/tests/scenarios.rs",
            path.display()
        ),
    }
}

/// Replays `path` as a scenario of `G` on every executor; every checkpoint must verify.
fn replay_game_everywhere<G: Game>(path: &Path) -> Vec<ReplayReport> {
    let scenario = Scenario::load::<G>(path).unwrap_or_else(|e| panic!("{e}"));
    executors()
        .into_iter()
        .map(|executor| {
            let report = Replayer::<G>::new(&scenario)
                .executor(executor)
                .run()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                report.is_verified(),
                "{} on {executor:?}: {report}",
                path.display()
            );
            assert!(
                !must_overlap(executor) || report.executor.overlapped(),
                "{} on {executor:?}: systems never overlapped: {:?}",
                path.display(),
                report.executor
            );
            report
        })
        .collect()
}

#[test]
fn every_scenario_replays_identically_on_every_executor() {
    let mut files: Vec<_> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/ exists")
        .map(|entry| entry.expect("a readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ron"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no scenario in {}",
        scenarios_dir().display()
    );
    for path in files {
        let reports = replay_everywhere(&path);
        let reference = &reports[0];
        assert_eq!(reference.hashes.len(), reference.checkpoints_total);
        for report in &reports[1..] {
            assert_eq!(report.hashes, reference.hashes, "{}", path.display());
        }
        println!("{}: {reference}", path.display());
    }
}

#[test]
fn the_golden_particle_file_is_what_its_generator_records() {
    let path = scenarios_dir().join(GoldenParticles::FILE);
    let on_disk = std::fs::read_to_string(&path).expect("the golden file exists");
    let recorded = GoldenParticles::record().to_ron().expect("serializable");
    assert!(
        on_disk == recorded,
        "{} is stale; regenerate it with `cargo run -p tickbus-tests --example record_particles`",
        path.display()
    );
}

#[test]
fn the_readme_example_is_a_valid_scenario() {
    let readme = std::fs::read_to_string(scenarios_dir().join("README.md")).expect("README");
    let example = readme
        .split("```ron\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a ```ron example");
    let scenario = Scenario::parse::<Particles>(example, "scenarios/README.md").unwrap();
    assert_eq!((scenario.ticks, scenario.inputs.len()), (120, 2));
    assert_eq!(scenario.checkpoints.len(), 3);
}

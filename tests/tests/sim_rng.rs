//! The per-system RNG: streams depend on the seed and the system only, so adding a system or
//! changing the executor never shifts another system's numbers.

use tickbus::{
    ExecutorKind,
    prelude::*,
    replay::{SimRng, SimSeed},
};

#[derive(Resource, Default)]
struct Drawn(Vec<u32>);

#[derive(Resource, Default)]
struct TwinDrawn(Vec<u32>);

fn observed(mut rng: SimRng, mut drawn: ResMut<Drawn>) {
    drawn.0.push(rng.below(1_000_000));
}

/// The same body as `observed`, under another name.
fn observed_twin(mut rng: SimRng, mut drawn: ResMut<TwinDrawn>) {
    drawn.0.push(rng.below(1_000_000));
}

fn noisy_neighbour(mut rng: SimRng) {
    for _ in 0..7 {
        rng.below(10);
    }
}

fn draws(seed: u64, executor: ExecutorKind, with_neighbour: bool) -> (Vec<u32>, Vec<u32>) {
    let mut app = App::new();
    app.set_executor(executor)
        .insert_resource(SimSeed(seed))
        .init_resource::<Drawn>()
        .init_resource::<TwinDrawn>();
    if with_neighbour {
        app.add_systems(noisy_neighbour);
    }
    app.add_systems(observed).add_systems(observed_twin);
    let mut engine = app.build().expect("builds");
    engine.run_ticks(50).expect("runs");
    let world = engine.world();
    (
        world.resource::<Drawn>().0.clone(),
        world.resource::<TwinDrawn>().0.clone(),
    )
}

#[test]
fn adding_a_system_does_not_shift_another_systems_numbers() {
    let alone = draws(5, ExecutorKind::Sequential, false);
    let with_neighbour = draws(5, ExecutorKind::Sequential, true);
    assert_eq!(alone, with_neighbour);
}

#[test]
fn streams_do_not_depend_on_the_executor() {
    let reference = draws(5, ExecutorKind::Sequential, true);
    for threads in [1, 2, 4, 8] {
        assert_eq!(draws(5, ExecutorKind::parallel(threads), true), reference);
    }
}

#[test]
fn streams_differ_between_systems_and_seeds() {
    let (observed, twin) = draws(5, ExecutorKind::Sequential, false);
    assert_ne!(observed, twin, "two systems share a stream");
    assert_ne!(draws(6, ExecutorKind::Sequential, false).0, observed);
}

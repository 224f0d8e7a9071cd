//! The particle game is a real test of the parallel executor: independent systems may run
//! at the same time, and the run spawns and despawns particles.

use tickbus::{
    ExecutorKind,
    replay::{Game, Recorder},
};
use tickbus_tests::particles::{Census, Particles, ParticlesConfig, Position};

#[test]
fn independent_particle_systems_may_run_together() {
    let mut app = tickbus::App::new();
    app.add_source::<<Particles as Game>::Input>(Particles::input_source());
    Particles::build(&ParticlesConfig::default(), &mut app);
    let engine = app.build().expect("builds");
    let plan = engine.schedule_plan();
    let index = |name: &str| plan.index_of(name).unwrap_or_else(|| panic!("no {name}"));
    // Spin (RNG + Spin) and age (Lifetime) touch nothing the movement chain touches.
    assert!(plan.may_run_together(index("spin"), index("integrate")));
    assert!(plan.may_run_together(index("age"), index("accelerate")));
    assert!(plan.may_run_together(index("spin"), index("age")));
    // Writers of Velocity stay ordered.
    assert!(!plan.may_run_together(index("accelerate"), index("apply_impulses")));
}

#[test]
fn particles_are_spawned_and_expire() {
    let mut recorder = Recorder::<Particles>::builder(ParticlesConfig::default())
        .executor(ExecutorKind::parallel(2))
        .build()
        .expect("builds");
    recorder.run_ticks(600).expect("no crash");
    let world = recorder.engine().world();
    let census = *world.resource::<Census>();
    assert!(census.spawned > u64::from(ParticlesConfig::default().initial));
    assert!(census.expired > 0, "{census:?}");
    let alive = world
        .try_query::<&Position>()
        .map_or(0, |q| q.iter_manual(world).count());
    assert_eq!(alive as u64, census.spawned - census.expired);
}

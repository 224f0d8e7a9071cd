//! Memory stays flat over a long run: a simulation that spawns and despawns entities every
//! tick holds the same live heap bytes (over all threads) after 20,000 more ticks as after
//! its warm-up, on the sequential and the parallel executor (its workers really used). (bevy keeps a removal record
//! for every despawn until the world's trackers are cleared, which the engine does every
//! tick.)

use tickbus::{ExecutorKind, prelude::*};
use tickbus_tests::alloc_count::{Counting, live_bytes};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Component)]
struct Lifetime(u64);

/// Some data per entity, so that despawning frees table rows worth a few bytes.
#[derive(Component)]
#[allow(dead_code)]
struct Payload([u64; 4]);

/// Spawns 20 entities a tick; each lives 50 ticks.
fn spawn_and_expire(
    mut commands: Commands,
    living: Query<(Entity, &Lifetime)>,
    time: Res<SimTime>,
) {
    for (entity, lifetime) in &living {
        if lifetime.0 <= time.tick() {
            commands.entity(entity).despawn();
        }
    }
    for i in 0..20 {
        commands.spawn((Lifetime(time.tick() + 50), Payload([time.tick(), i, 0, 0])));
    }
}

/// Touches every entity's payload: independent of [`spawn_and_expire`], so on the parallel
/// executor the two run on different threads.
fn stir(mut payloads: Query<&mut Payload>) {
    for mut payload in &mut payloads {
        payload.0[2] += 1;
    }
}

/// Live heap bytes gained over `ticks` ticks of spawning and despawning, after a warm-up, and
/// the systems that ran on worker threads meanwhile.
fn live_bytes_growth(executor: ExecutorKind, ticks: u64) -> (isize, u64) {
    let mut app = App::new();
    app.set_executor(executor)
        .add_systems(spawn_and_expire)
        .add_systems(stir);
    let mut engine = app.build().unwrap();
    engine.run_ticks(500).unwrap();
    let warm = live_bytes();
    engine.run_ticks(ticks).unwrap();
    let living = engine
        .world_mut()
        .query::<&Lifetime>()
        .iter(engine.world())
        .count();
    assert_eq!(living, 1000);
    (
        live_bytes() - warm,
        engine.executor_totals().systems_on_workers,
    )
}

#[test]
fn memory_stays_flat_over_a_long_run_of_spawns_and_despawns() {
    for executor in [ExecutorKind::Sequential, ExecutorKind::forced_parallel(2)] {
        // 20,000 ticks: 400,000 entities spawned and despawned.
        let (growth, on_workers) = live_bytes_growth(executor, 20_000);
        assert!(
            growth.abs() < 16 * 1024,
            "{executor:?}: {growth} more live bytes after 20,000 ticks"
        );
        if executor != ExecutorKind::Sequential {
            assert!(on_workers > 0, "{executor:?}: no system ran on a worker");
        }
    }
}

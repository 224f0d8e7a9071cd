//! Benchmark `physics`: the 2D physics step and its broadphase.
//!
//! * `physics_step/{N}` (N = 1k, 10k, 100k bodies): one [`Engine::tick`] of an app with only
//!   the [`PhysicsPlugin`] (integrate, grid broadphase, narrowphase, bounds check, resolution
//!   on, so the scene stays a steady, bouncing crowd at about 5 % area coverage). Contenders:
//!   `sequential` (the sequential executor: every loop on one thread) and `parallel_2` (the
//!   parallel executor on two threads: the data-parallel loops use the engine's worker pool).
//! * `broadphase/{N}` (N = 1k, 5k boxes of the same scene): `grid_sequential` and `grid_parallel_2`
//!   ([`UniformGrid::pairs`] without and with the engine's pool) against `brute_force`
//!   ([`brute_force_pairs`], all n²/2 pairs), the baseline. All three must find the same
//!   pairs (checked before measuring).
//!
//! Every group uses `Throughput::Elements(N)`: criterion reports bodies (boxes) per second.
//!
//! Run: `CARGO_TARGET_DIR=target-bench cargo bench -p tickbus-benches --bench physics --
//! --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use bevy_ecs::prelude::World;
use criterion::{BenchmarkId, Criterion, Throughput};
use tickbus::physics::internals::{UniformGrid, brute_force_pairs};
use tickbus::physics::{Aabb, Body, Collider, PhysicsConfig, PhysicsPlugin, Vec2};
use tickbus::{App, ComputePool, Engine, ExecutorKind};

/// Threads of the parallel contender (this machine has two cores).
const THREADS: usize = 2;
/// Ticks run before measuring, so the executor knows every system's run time.
const WARM_UP_TICKS: u64 = 10;

/// A deterministic scene: `n` bodies in a square sized for ~5 % coverage, a third of them
/// boxes, all moving.
struct Scene {
    side: f32,
    bodies: Vec<(Body, Collider)>,
}

impl Scene {
    fn new(n: usize) -> Self {
        let side = (n as f32).sqrt() * 4.0;
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32
        };
        let bodies = (0..n)
            .map(|i| {
                let position = Vec2::new(next() * side, next() * side);
                let velocity = Vec2::new(next() - 0.5, next() - 0.5) * 20.0;
                let collider = if i % 3 == 0 {
                    Collider::rect(1.0, 0.8)
                } else {
                    Collider::circle(0.5)
                };
                (Body::new(position, velocity), collider)
            })
            .collect();
        Self { side, bodies }
    }

    fn boxes(&self) -> Vec<Aabb> {
        self.bodies
            .iter()
            .map(|(b, c)| c.aabb(b.position))
            .collect()
    }

    fn engine(&self, executor: ExecutorKind) -> Engine {
        let config = PhysicsConfig {
            bounds: Some(Aabb::new(Vec2::ZERO, Vec2::splat(self.side))),
            resolve: true,
            cell_size: 1.0,
            ..PhysicsConfig::default()
        };
        let mut app = App::new();
        app.set_executor(executor)
            .add_plugins(PhysicsPlugin::new(config));
        let world: &mut World = app.world_mut();
        world.spawn_batch(self.bodies.clone());
        let mut engine = app.build().expect("a valid physics app");
        engine.run_ticks(WARM_UP_TICKS).expect("physics ticks run");
        engine
    }
}

fn physics_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("physics_step");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let scene = Scene::new(n);
        group.throughput(Throughput::Elements(n as u64));
        let contenders = [
            ("sequential", ExecutorKind::Sequential),
            ("parallel_2", ExecutorKind::parallel(THREADS)),
        ];
        for (name, executor) in contenders {
            let mut engine = scene.engine(executor);
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| black_box(engine.tick().expect("tick")).tick)
            });
        }
    }
    group.finish();
}

fn broadphase(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadphase");
    let grid = UniformGrid::new(1.0);
    // The engine's pool, as systems get it.
    let pool = Scene::new(1)
        .engine(ExecutorKind::parallel(THREADS))
        .world()
        .resource::<ComputePool>()
        .clone();
    let sequential = ComputePool::default();
    for n in [1_000, 5_000] {
        let boxes = Scene::new(n).boxes();
        let expected = brute_force_pairs(&boxes);
        assert_eq!(grid.pairs(&boxes, &sequential), expected);
        assert_eq!(grid.pairs(&boxes, &pool), expected);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("brute_force", n), &boxes, |b, boxes| {
            b.iter(|| brute_force_pairs(black_box(boxes)).len())
        });
        group.bench_with_input(
            BenchmarkId::new("grid_sequential", n),
            &boxes,
            |b, boxes| b.iter(|| grid.pairs(black_box(boxes), &sequential).len()),
        );
        group.bench_with_input(
            BenchmarkId::new("grid_parallel_2", n),
            &boxes,
            |b, boxes| b.iter(|| grid.pairs(black_box(boxes), &pool).len()),
        );
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    physics_step(&mut criterion);
    broadphase(&mut criterion);
    criterion.final_summary();
}

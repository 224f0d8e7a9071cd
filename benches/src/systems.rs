//! The schedule workloads: what running systems costs, and what parallelism gains.
//!
//! * overhead: trivial systems (bump a counter), either all independent (each its own
//!   `Local`) or all conflicting (each `ResMut` of one resource): the cost of a tick itself;
//! * busy: independent systems each doing a fixed amount of integer work (calibrated once to
//!   take about W µs): the speedup of more threads, and the cost of trying where it cannot pay;
//! * the "schedule" workload of rust-gamedev/ecs_bench_suite: 10,000 entities each of
//!   (A,B), (A,B,C), (A,B,C,D), (A,B,C,E); systems `ab`, `cd`, `ce` swap the fields of two
//!   components (`ab` is independent, `cd` and `ce` conflict on C).

use std::{hint::black_box, time::Duration};

use bevy_ecs::prelude::{Component, Local, Query, ResMut, Resource};

use crate::{Builder, Contender, Sim, spin, spin_iterations};

/// System counts of the overhead workloads.
pub const SYSTEM_COUNTS: [usize; 4] = [10, 50, 200, 1000];

/// Busy workloads: (systems, µs each).
pub const BUSY: [(usize, u64); 8] = [
    (2, 2),
    (2, 5),
    (2, 20),
    (4, 10),
    (4, 100),
    (10, 5),
    (10, 20),
    (10, 100),
];

/// The resource every conflicting system writes.
#[derive(Resource, Default)]
struct Counter(u64);

/// Whether the trivial systems conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overhead {
    /// Each system has its own `Local`.
    Independent,
    /// Every system writes one resource.
    Conflicting,
}

impl Overhead {
    /// The name in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Overhead::Independent => "independent",
            Overhead::Conflicting => "conflicting",
        }
    }
}

/// `count` trivial systems, warmed up.
pub fn overhead_sim(contender: Contender, kind: Overhead, count: usize) -> Sim {
    let mut builder = Builder::new(contender);
    match kind {
        Overhead::Independent => {
            for _ in 0..count {
                builder.add_systems(|mut runs: Local<u64>| {
                    *runs += 1;
                    black_box(*runs);
                });
            }
        }
        Overhead::Conflicting => {
            builder.world_mut().init_resource::<Counter>();
            for _ in 0..count {
                builder.add_systems(|mut counter: ResMut<Counter>| counter.0 += 1);
            }
        }
    }
    builder.build_warm()
}

/// `count` independent systems of about `each` of work, warmed up.
pub fn busy_sim(contender: Contender, count: usize, each: Duration) -> Sim {
    let iterations = spin_iterations(each);
    let mut builder = Builder::new(contender);
    for _ in 0..count {
        builder.add_systems(move |mut out: Local<u64>| {
            *out = out.wrapping_add(spin(iterations));
        });
    }
    builder.build_warm()
}

/// Components of the ecs_bench_suite workload.
#[derive(Component)]
struct A(f32);
/// Component B.
#[derive(Component)]
struct B(f32);
/// Component C.
#[derive(Component)]
struct C(f32);
/// Component D.
#[derive(Component)]
struct D(f32);
/// Component E.
#[derive(Component)]
struct E(f32);

fn ab(mut query: Query<(&mut A, &mut B)>) {
    for (mut a, mut b) in &mut query {
        std::mem::swap(&mut a.0, &mut b.0);
    }
}

fn cd(mut query: Query<(&mut C, &mut D)>) {
    for (mut c, mut d) in &mut query {
        std::mem::swap(&mut c.0, &mut d.0);
    }
}

fn ce(mut query: Query<(&mut C, &mut E)>) {
    for (mut c, mut e) in &mut query {
        std::mem::swap(&mut c.0, &mut e.0);
    }
}

/// The ecs_bench_suite "schedule" workload, warmed up.
pub fn ecs_bench_suite_sim(contender: Contender) -> Sim {
    const ENTITIES: usize = 10_000;
    let mut builder = Builder::new(contender);
    let world = builder.world_mut();
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0))));
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0), C(0.0))));
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0), C(0.0), D(0.0))));
    world.spawn_batch((0..ENTITIES).map(|_| (A(0.0), B(0.0), C(0.0), E(0.0))));
    builder.add_systems((ab, cd, ce));
    builder.build_warm()
}

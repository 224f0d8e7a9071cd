//! Determinism of the scheduler: many seeded random system graphs (reads and writes of
//! several resources, queries over components, explicit orders, events, and systems that
//! spawn and despawn entities through `Commands` while others run in parallel) end in the
//! same state — resources, entity ids and component values — under the sequential executor
//! and the rayon executor with 1, 2, 4 and 8 threads.

use std::time::Duration;

use tickbus::bevy_ecs::{schedule::ScheduleConfigs, system::ScheduleSystem};
use tickbus::{ExecutorKind, ParallelConfig, prelude::*};

/// One configured system, as bevy's `into_configs` makes it.
type SystemConfig = ScheduleConfigs<ScheduleSystem>;

/// The set of random system `id`, a target for explicit orders.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Slot(u64);

const RESOURCES: usize = 4;
const TICKS: u64 = 30;

#[derive(Resource, Default, Clone, Copy, PartialEq, Eq, Debug)]
struct Chain<const N: usize>(u64);

#[derive(Component, Clone, Copy, PartialEq, Eq, Debug)]
struct Val(u64);

#[derive(Debug, Clone, Copy)]
struct Pulse(u64);

/// A fixed, order-sensitive mix (splitmix64 over the inputs).
fn mix(values: &[u64]) -> u64 {
    values.iter().fold(0x9E37_79B9_7F4A_7C15, |acc, &v| {
        let mut z = acc ^ v.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// Busy work whose length varies by system, so thread timings vary; its result is fixed.
fn spin(work: u32) -> u64 {
    (0..work).fold(work as u64, |acc, i| mix(&[acc, i as u64]))
}

fn res_mix<const A: usize, const B: usize>(
    id: u64,
    work: u32,
) -> impl FnMut(Res<Chain<A>>, ResMut<Chain<B>>, Res<SimTime>) {
    move |a, mut b, time| b.0 = mix(&[b.0, a.0, id, time.tick(), spin(work)])
}

fn query_mix<const B: usize>(
    id: u64,
    work: u32,
) -> impl FnMut(Query<(Entity, &mut Val)>, ResMut<Chain<B>>) {
    move |mut query, mut chain| {
        for (entity, mut val) in &mut query {
            val.0 = mix(&[val.0, id, spin(work / 8)]);
            chain.0 = mix(&[chain.0, entity.to_bits(), val.0]);
        }
    }
}

/// Every entity with a value.
type Living<'w, 's> = Query<'w, 's, Entity, With<Val>>;

fn spawner<const A: usize>(
    id: u64,
    work: u32,
) -> impl FnMut(Commands, Res<Chain<A>>, Living, Res<SimTime>) {
    move |mut commands, chain, existing, time| {
        let value = mix(&[chain.0, id, time.tick(), spin(work)]);
        commands.spawn(Val(value));
        if time.tick() % 3 == id % 3
            && let Some(oldest) = existing.iter().min()
        {
            commands.entity(oldest).despawn();
        }
    }
}

fn writer<const A: usize>(
    id: u64,
    work: u32,
) -> impl FnMut(EventWriter<Pulse>, Res<Chain<A>>, Res<SimTime>) {
    move |mut out, chain, time| {
        let count = (mix(&[id, time.tick()]) % 4) as usize;
        out.send_batch((0..count).map(|i| Pulse(mix(&[chain.0, id, i as u64, spin(work)]))));
    }
}

fn reader<const B: usize>(id: u64) -> impl FnMut(EventReader<Pulse>, ResMut<Chain<B>>) {
    move |pulses, mut chain| {
        for pulse in &pulses {
            chain.0 = mix(&[chain.0, pulse.0, id]);
        }
    }
}

macro_rules! one_const {
    ($n:expr, $make:ident($($arg:expr),*)) => {
        match $n {
            0 => $make::<0>($($arg),*).into_configs(),
            1 => $make::<1>($($arg),*).into_configs(),
            2 => $make::<2>($($arg),*).into_configs(),
            _ => $make::<3>($($arg),*).into_configs(),
        }
    };
}

macro_rules! two_consts {
    ($a:expr, $b:expr, $make:ident($($arg:expr),*)) => {
        match ($a, $b) {
            (0, 1) => $make::<0, 1>($($arg),*).into_configs(),
            (0, 2) => $make::<0, 2>($($arg),*).into_configs(),
            (0, 3) => $make::<0, 3>($($arg),*).into_configs(),
            (1, 0) => $make::<1, 0>($($arg),*).into_configs(),
            (1, 2) => $make::<1, 2>($($arg),*).into_configs(),
            (1, 3) => $make::<1, 3>($($arg),*).into_configs(),
            (2, 0) => $make::<2, 0>($($arg),*).into_configs(),
            (2, 1) => $make::<2, 1>($($arg),*).into_configs(),
            (2, 3) => $make::<2, 3>($($arg),*).into_configs(),
            (3, 0) => $make::<3, 0>($($arg),*).into_configs(),
            (3, 1) => $make::<3, 1>($($arg),*).into_configs(),
            _ => $make::<3, 2>($($arg),*).into_configs(),
        }
    };
}

/// A tiny deterministic generator for the graph shapes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = mix(&[self.0]);
        self.0 % n
    }
}

fn random_system(rng: &mut Rng, id: u64) -> SystemConfig {
    let a = rng.below(RESOURCES as u64) as usize;
    let b = (a + 1 + rng.below(RESOURCES as u64 - 1) as usize) % RESOURCES;
    let work = rng.below(400) as u32;
    match rng.below(5) {
        0 => two_consts!(a, b, res_mix(id, work)),
        1 => one_const!(b, query_mix(id, work)),
        2 => one_const!(a, spawner(id, work)),
        3 => one_const!(a, writer(id, work)),
        _ => one_const!(b, reader(id)),
    }
}

/// The systems of graph `seed`, each in its own set, some ordered after earlier sets.
fn random_graph(seed: u64) -> Vec<SystemConfig> {
    let mut rng = Rng(seed);
    let count = 6 + rng.below(14);
    (0..count)
        .map(|id| {
            let mut config = random_system(&mut rng, id).in_set(Slot(id));
            if id > 0 && rng.below(3) == 0 {
                config = config.after(Slot(rng.below(id)));
            }
            config
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
struct State {
    chains: [u64; RESOURCES],
    entities: Vec<(u64, u64)>,
}

/// An app on `executor` with the four chain resources.
fn app_with_chains(executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor)
        .insert_resource(Chain::<0>(1))
        .insert_resource(Chain::<1>(2))
        .insert_resource(Chain::<2>(3))
        .insert_resource(Chain::<3>(4));
    app
}

/// Every entity with a value, as (id bits, value), sorted by id.
fn entities(world: &mut World) -> Vec<(u64, u64)> {
    let mut entities: Vec<(u64, u64)> = world
        .query::<(Entity, &Val)>()
        .iter(world)
        .map(|(entity, val)| (entity.to_bits(), val.0))
        .collect();
    entities.sort_unstable();
    entities
}

fn final_state(seed: u64, executor: ExecutorKind) -> State {
    let mut app = app_with_chains(executor);
    for config in random_graph(seed) {
        app.add_systems(config);
    }
    let mut engine = app.build().expect("random graphs are acyclic");
    engine.run_ticks(TICKS).expect("no system fails");
    let world = engine.world_mut();
    let entities = entities(world);
    State {
        chains: [
            world.resource::<Chain<0>>().0,
            world.resource::<Chain<1>>().0,
            world.resource::<Chain<2>>().0,
            world.resource::<Chain<3>>().0,
        ],
        entities,
    }
}

fn executors() -> Vec<(String, ExecutorKind)> {
    let mut executors: Vec<(String, ExecutorKind)> = [1, 2, 4, 8]
        .into_iter()
        .map(|threads| {
            let config = ParallelConfig {
                threads,
                offload_min: Duration::ZERO,
                ..ParallelConfig::default()
            };
            (
                format!("rayon x{threads} (offload everything)"),
                ExecutorKind::Parallel(config),
            )
        })
        .collect();
    executors.push(("rayon x2 (adaptive)".into(), ExecutorKind::parallel(2)));
    executors
}

#[test]
fn random_graphs_end_identically_on_every_executor() {
    let mut graphs_with_entities = 0;
    for seed in 1..=24 {
        let reference = final_state(seed, ExecutorKind::Sequential);
        graphs_with_entities += usize::from(!reference.entities.is_empty());
        for (name, executor) in executors() {
            assert_eq!(
                final_state(seed, executor),
                reference,
                "graph {seed}, {name}"
            );
        }
    }
    assert!(
        graphs_with_entities > 10,
        "the graphs must exercise spawning"
    );
}

#[test]
fn parallel_spawners_get_the_same_entity_ids_as_sequential_ones() {
    // Many spawners with no data conflicts between them: without the engine's spawn order
    // their ids would follow thread timing.
    let spawners = |app: &mut App| {
        for id in 0..8u64 {
            app.add_systems(one_const!(
                id as usize % RESOURCES,
                spawner(id, 50 * id as u32)
            ));
        }
    };
    let run = |executor| {
        let mut app = app_with_chains(executor);
        spawners(&mut app);
        let mut engine = app.build().unwrap();
        engine.run_ticks(20).unwrap();
        entities(engine.world_mut())
    };
    let reference = run(ExecutorKind::Sequential);
    assert!(reference.len() > 100);
    for (name, executor) in executors() {
        assert_eq!(run(executor), reference, "{name}");
    }
}

//! Determinism of the scheduler: many seeded random system graphs (reads and writes of
//! several resources, queries over components, explicit orders, events, systems that spawn
//! and despawn entities through `Commands`, and `Commands` users that only insert and remove
//! components, all running in parallel with others) end in the same state — resources,
//! entity ids and component values — under the sequential executor and the parallel executor
//! with 1, 2, 4 and 8 threads. Every run with more than one thread must show that systems
//! really overlapped.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tickbus::bevy_ecs::{schedule::ScheduleConfigs, system::ScheduleSystem};
use tickbus::{ExecutorKind, ExecutorTotals, TickError, prelude::*};
use tickbus_tests::overlap::{Rendezvous, meet, meet_too, must_overlap};

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

/// Put on and taken off entities by `Commands` users that do not spawn.
#[derive(Component, Clone, Copy, PartialEq, Eq, Debug)]
struct Tag(u64);

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

/// Tags the entities whose value matches it and untags the others, through `Commands`
/// (no spawn: it runs in parallel with other `Commands` users).
fn tagger<const A: usize>(
    id: u64,
    work: u32,
) -> impl FnMut(Commands, Query<(Entity, &Val)>, Res<Chain<A>>) {
    move |mut commands, values, chain| {
        let pick = mix(&[chain.0, id, spin(work)]) % 3;
        for (entity, val) in &values {
            if val.0 % 3 == pick {
                commands.entity(entity).try_insert(Tag(mix(&[val.0, id])));
            } else {
                commands.entity(entity).try_remove::<Tag>();
            }
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
    match rng.below(6) {
        0 => two_consts!(a, b, res_mix(id, work)),
        1 => one_const!(b, query_mix(id, work)),
        2 => one_const!(a, spawner(id, work)).in_set(Spawners),
        3 => one_const!(a, writer(id, work)),
        4 => one_const!(a, tagger(id, work)),
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
    entities: Vec<(u64, u64, Option<u64>)>,
}

/// An app on `executor` with the four chain resources and a meeting point.
fn app_with_chains(executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor)
        .insert_resource(Rendezvous::new(executor))
        .insert_resource(Chain::<0>(1))
        .insert_resource(Chain::<1>(2))
        .insert_resource(Chain::<2>(3))
        .insert_resource(Chain::<3>(4));
    app
}

/// Every entity with a value, as (id bits, value, tag), sorted by id.
fn entities(world: &mut World) -> Vec<(u64, u64, Option<u64>)> {
    let mut entities: Vec<(u64, u64, Option<u64>)> = world
        .query::<(Entity, &Val, Option<&Tag>)>()
        .iter(world)
        .map(|(entity, val, tag)| (entity.to_bits(), val.0, tag.map(|t| t.0)))
        .collect();
    entities.sort_unstable();
    entities
}

/// The final state of graph `seed` on `executor`, and how its systems ran. Two systems
/// that wait for each other make overlap certain where the executor must overlap.
fn final_state(seed: u64, executor: ExecutorKind) -> (State, ExecutorTotals) {
    let mut app = app_with_chains(executor);
    app.add_systems((meet, meet_too));
    for config in random_graph(seed) {
        app.add_systems(config);
    }
    let mut engine = app.build().expect("random graphs are acyclic");
    engine.run_ticks(TICKS).expect("no system fails");
    let totals = engine.executor_totals();
    let world = engine.world_mut();
    let entities = entities(world);
    let state = State {
        chains: [
            world.resource::<Chain<0>>().0,
            world.resource::<Chain<1>>().0,
            world.resource::<Chain<2>>().0,
            world.resource::<Chain<3>>().0,
        ],
        entities,
    };
    (state, totals)
}

/// The parallel executors to compare with the sequential one: every thread count with every
/// system offered to the workers, and the adaptive default on two threads.
fn executors() -> Vec<(String, ExecutorKind)> {
    let mut executors: Vec<(String, ExecutorKind)> = [1, 2, 4, 8]
        .into_iter()
        .map(|threads| {
            (
                format!("parallel x{threads} (forced)"),
                ExecutorKind::forced_parallel(threads),
            )
        })
        .collect();
    executors.push(("parallel x2 (adaptive)".into(), ExecutorKind::parallel(2)));
    executors
}

/// Panics unless systems really overlapped on `executor` (when it forces parallelism on
/// more than one thread).
fn assert_overlapped(name: &str, executor: ExecutorKind, totals: &ExecutorTotals) {
    if must_overlap(executor) {
        assert!(
            totals.overlapped(),
            "{name}: no systems overlapped: {totals:?}"
        );
    }
}

#[test]
fn random_graphs_end_identically_on_every_executor() {
    let mut graphs_with_entities = 0;
    let mut graphs_with_tags = 0;
    let mut totals = vec![ExecutorTotals::default(); executors().len()];
    for seed in 1..=24 {
        let (reference, _) = final_state(seed, ExecutorKind::Sequential);
        graphs_with_entities += usize::from(!reference.entities.is_empty());
        graphs_with_tags += usize::from(reference.entities.iter().any(|e| e.2.is_some()));
        for ((name, executor), sum) in executors().into_iter().zip(&mut totals) {
            let (state, run) = final_state(seed, executor);
            assert_eq!(state, reference, "graph {seed}, {name}");
            sum.systems_on_workers += run.systems_on_workers;
            sum.peak_running = sum.peak_running.max(run.peak_running);
        }
    }
    for ((name, executor), sum) in executors().into_iter().zip(&totals) {
        assert_overlapped(&name, executor, sum);
    }
    assert!(
        graphs_with_entities > 10,
        "the graphs must exercise spawning"
    );
    assert!(graphs_with_tags > 5, "the graphs must exercise Commands");
}

/// Meetings of spawners with other systems.
#[derive(Resource, Clone, Default)]
struct SpawnerMeetings(Arc<AtomicUsize>);

/// A declared spawner; the first waits to run beside another system (where the executor
/// must overlap) and counts when it did.
fn meeting_spawner<const A: usize>(
    id: u64,
) -> impl FnMut(Commands, Res<Chain<A>>, Res<Rendezvous>, Res<SpawnerMeetings>, Res<SimTime>) {
    move |mut commands, chain, rendezvous, meetings, time| {
        if id == 0 && rendezvous.meet() {
            meetings.0.fetch_add(1, Ordering::SeqCst);
        }
        commands.spawn(Val(mix(&[chain.0, id, time.tick(), spin(200)])));
    }
}

/// Spawners (declared) and `Commands` users that only tag, all ordered against each other,
/// and a system that meets the first spawner beside them.
fn spawners_and_company(app: &mut App) {
    app.init_resource::<SpawnerMeetings>().add_systems(meet);
    for id in 0..6u64 {
        app.add_systems(one_const!(id as usize % RESOURCES, meeting_spawner(id)).in_set(Spawners));
        app.add_systems(one_const!(id as usize % RESOURCES, tagger(id, 50)));
    }
}

#[test]
fn parallel_spawners_get_the_same_entity_ids_as_sequential_ones() {
    let run = |executor| {
        let mut app = app_with_chains(executor);
        spawners_and_company(&mut app);
        let mut engine = app.build().unwrap();
        engine.run_ticks(20).unwrap();
        let met = engine
            .world()
            .resource::<SpawnerMeetings>()
            .0
            .load(Ordering::SeqCst);
        let totals = engine.executor_totals();
        (entities(engine.world_mut()), totals, met)
    };
    let (reference, _, _) = run(ExecutorKind::Sequential);
    assert_eq!(reference.len(), 120);
    assert!(
        reference.iter().any(|e| e.2.is_some()),
        "some entities tagged"
    );
    for (name, executor) in executors() {
        let (found, totals, met) = run(executor);
        assert_eq!(found, reference, "{name}");
        assert_overlapped(&name, executor, &totals);
        if must_overlap(executor) {
            assert!(met > 0, "{name}: no spawner ran beside another system");
        }
    }
}

/// Two spawners nobody declared, after a `Commands` user that does not spawn: nothing
/// orders them, so their ids could depend on timing.
fn undeclared_spawners(app: &mut App) {
    app.add_systems(one_const!(0, tagger(0, 10)))
        .add_systems(one_const!(1, spawner(1, 10)))
        .add_systems(one_const!(2, spawner(2, 10)));
}

#[test]
fn an_undeclared_spawner_is_named_on_every_executor() {
    let first_error = |executor| {
        let mut app = app_with_chains(executor);
        undeclared_spawners(&mut app);
        let mut engine = app.build().unwrap();
        let error = engine.run_ticks(5).unwrap_err();
        engine.run_ticks(3).unwrap_err();
        error
    };
    let reference = first_error(ExecutorKind::Sequential);
    assert!(
        matches!(&reference, TickError::UndeclaredSpawn { tick: 0, entities: 1, system } if system.starts_with("spawner<1>")),
        "{reference}"
    );
    assert!(
        reference.to_string().contains(".in_set(Spawners)"),
        "{reference}"
    );
    for (name, executor) in executors() {
        assert_eq!(first_error(executor), reference, "{name}");
    }
}

#[test]
fn a_spawner_ordered_against_every_commands_user_needs_no_declaration() {
    fn tag_all(mut commands: Commands, values: Query<Entity, With<Val>>, _: ResMut<Chain<0>>) {
        values.iter().for_each(|e| {
            commands.entity(e).insert(Tag(1));
        });
    }
    fn spawn_one(mut commands: Commands, mut chain: ResMut<Chain<0>>) {
        chain.0 += 1;
        commands.spawn(Val(chain.0));
    }
    let run = |executor| {
        let mut app = app_with_chains(executor);
        app.add_systems((tag_all, spawn_one));
        let mut engine = app.build().unwrap();
        engine
            .run_ticks(10)
            .expect("both use Chain<0>, so they are ordered");
        entities(engine.world_mut())
    };
    let reference = run(ExecutorKind::Sequential);
    assert_eq!(reference.len(), 10);
    for (name, executor) in executors() {
        assert_eq!(run(executor), reference, "{name}");
    }
}

//! 2D physics through the public API: known geometric cases, contact begin/end pairs,
//! bounds, resolution, the narrowphase against brute force, and identical event streams for
//! any executor and thread count.

use proptest::prelude::*;
use tickbus::physics::{
    Aabb, Body, Collider, ContactEnded, ContactStarted, Contacts, LeftBounds, Mass, PhysicsConfig,
    PhysicsPlugin, Restitution, Vec2, collide, entity_order,
};
use tickbus::prelude::*;

/// One physics event as seen by a reader: the tick it was read in, its kind, the entities,
/// and the bits of its normal and depth (so float differences cannot hide).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    tick: u64,
    kind: &'static str,
    entities: (Entity, Option<Entity>),
    normal_depth: [u32; 3],
}

#[derive(Resource, Default)]
struct Log(Vec<Seen>);

fn bits(normal: Vec2, depth: f32) -> [u32; 3] {
    [normal.x.to_bits(), normal.y.to_bits(), depth.to_bits()]
}

fn record(
    time: Res<SimTime>,
    started: EventReader<ContactStarted>,
    ended: EventReader<ContactEnded>,
    left: EventReader<LeftBounds>,
    mut log: ResMut<Log>,
) {
    let tick = time.tick();
    let started = started.iter().map(|e| ("started", e.0));
    let ended = ended.iter().map(|e| ("ended", e.0));
    log.0.extend(started.chain(ended).map(|(kind, c)| Seen {
        tick,
        kind,
        entities: (c.a, Some(c.b)),
        normal_depth: bits(c.normal, c.depth),
    }));
    log.0.extend(left.iter().map(|e| Seen {
        tick,
        kind: "left",
        entities: (e.entity, None),
        normal_depth: bits(e.normal, e.depth),
    }));
}

/// 100 ticks per second; `dt` is exactly representable as a Duration.
fn app(config: PhysicsConfig, executor: ExecutorKind) -> App {
    let mut app = App::new();
    app.set_executor(executor)
        .set_tick_rate(100)
        .add_plugins(PhysicsPlugin::new(config))
        .init_resource::<Log>()
        .add_systems(record);
    app
}

fn still(app: &mut App, x: f32, y: f32, collider: Collider) -> Entity {
    let body = Body::new(Vec2::new(x, y), Vec2::ZERO);
    app.world_mut().spawn((body, collider)).id()
}

fn kinds(engine: &Engine) -> Vec<(u64, &'static str, Entity, Option<Entity>)> {
    let log = &engine.world().resource::<Log>().0;
    log.iter()
        .map(|s| (s.tick, s.kind, s.entities.0, s.entities.1))
        .collect()
}

#[test]
fn touching_overlapping_separated_and_box_against_circle() {
    let mut app = app(PhysicsConfig::default(), ExecutorKind::Sequential);
    let circle = Collider::circle(1.0);
    let touching = (
        still(&mut app, 0.0, 0.0, circle),
        still(&mut app, 2.0, 0.0, circle),
    );
    let overlapping = (
        still(&mut app, 0.0, 10.0, circle),
        still(&mut app, 1.5, 10.0, circle),
    );
    let separated = (
        still(&mut app, 0.0, 20.0, circle),
        still(&mut app, 2.5, 20.0, circle),
    );
    let rect = Collider::rect(2.0, 2.0);
    let box_circle = (
        still(&mut app, 0.0, 30.0, rect),
        still(&mut app, 1.75, 30.0, circle),
    );
    let mut engine = app.build().unwrap();
    engine.run_ticks(1).unwrap();
    let contacts = engine.world().resource::<Contacts>();
    assert_eq!(contacts.len(), 3);
    let touch = contacts.get(touching.1, touching.0).unwrap();
    assert_eq!(
        (touch.a, touch.b, touch.normal, touch.depth),
        (touching.0, touching.1, Vec2::X, 0.0)
    );
    assert_eq!(
        contacts.get(overlapping.0, overlapping.1).unwrap().depth,
        0.5
    );
    assert!(contacts.get(separated.0, separated.1).is_none());
    let hit = contacts.get(box_circle.0, box_circle.1).unwrap();
    assert_eq!((hit.normal, hit.depth), (Vec2::X, 0.25));
    engine.run_ticks(2).unwrap();
    let started: Vec<_> = kinds(&engine)
        .into_iter()
        .map(|k| (k.0, k.1, k.2))
        .collect();
    // Sent in tick 0, read in tick 1; nothing changes after.
    assert_eq!(
        started,
        vec![
            (1, "started", touching.0),
            (1, "started", overlapping.0),
            (1, "started", box_circle.0)
        ]
    );
}

#[test]
fn a_circle_passing_through_a_box_starts_and_ends_one_contact() {
    let mut app = app(PhysicsConfig::default(), ExecutorKind::Sequential);
    // 100 units/s at 100 ticks/s: 1 unit per tick. The box spans x in [9, 11].
    let mover = app
        .world_mut()
        .spawn((
            Body::new(Vec2::ZERO, Vec2::new(100.0, 0.0)),
            Collider::circle(0.5),
        ))
        .id();
    let wall = still(&mut app, 10.0, 0.0, Collider::rect(2.0, 4.0));
    let mut engine = app.build().unwrap();
    engine.run_ticks(20).unwrap();
    // Tick t moves the circle to x = t + 1; it touches while x in [8.5, 11.5]: ticks 8..=10.
    assert_eq!(
        kinds(&engine),
        vec![
            (9, "started", mover, Some(wall)),
            (12, "ended", mover, Some(wall))
        ]
    );
}

#[test]
fn despawning_a_body_ends_its_contacts() {
    let mut app = app(PhysicsConfig::default(), ExecutorKind::Sequential);
    let a = still(&mut app, 0.0, 0.0, Collider::circle(1.0));
    let b = still(&mut app, 1.0, 0.0, Collider::circle(1.0));
    let mut engine = app.build().unwrap();
    engine.run_ticks(2).unwrap();
    engine.world_mut().despawn(b);
    engine.run_ticks(2).unwrap();
    assert_eq!(
        kinds(&engine),
        vec![(1, "started", a, Some(b)), (3, "ended", a, Some(b))]
    );
}

fn bounded(resolve: bool) -> PhysicsConfig {
    PhysicsConfig {
        bounds: Some(Aabb::new(Vec2::ZERO, Vec2::splat(10.0))),
        resolve,
        ..PhysicsConfig::default()
    }
}

#[test]
fn leaving_the_bounds_is_reported_once_with_the_wall_normal() {
    let mut app = app(bounded(false), ExecutorKind::Sequential);
    let ball = app
        .world_mut()
        .spawn((
            Body::new(Vec2::new(8.0, 5.0), Vec2::new(50.0, 0.0)),
            Collider::circle(1.0),
        ))
        .id();
    let mut engine = app.build().unwrap();
    engine.run_ticks(10).unwrap();
    let log = &engine.world().resource::<Log>().0;
    assert_eq!(log.len(), 1, "{log:?}");
    // Tick 1 moves it to x = 9; the circle reaches 10.0 (touching, inside). Tick 2: x = 9.5.
    assert_eq!(
        (log[0].tick, log[0].kind, log[0].entities.0),
        (3, "left", ball)
    );
    assert_eq!(log[0].normal_depth, bits(Vec2::X, 0.5));
}

#[test]
fn resolution_keeps_bodies_inside_and_swaps_equal_masses_head_on() {
    let mut app = app(bounded(true), ExecutorKind::Sequential);
    let world = app.world_mut();
    let ball = world
        .spawn((
            Body::new(Vec2::new(8.0, 5.0), Vec2::new(50.0, 0.0)),
            Collider::circle(1.0),
        ))
        .id();
    let left = world
        .spawn((
            Body::new(Vec2::new(2.0, 2.0), Vec2::new(100.0, 0.0)),
            Collider::circle(1.0),
        ))
        .id();
    let right = world
        .spawn((
            Body::new(Vec2::new(6.0, 2.0), Vec2::new(-100.0, 0.0)),
            Collider::circle(1.0),
        ))
        .id();
    let wall = world
        .spawn((
            Body::new(Vec2::new(5.0, 8.0), Vec2::ZERO),
            Collider::rect(10.0, 1.0),
            Mass(f32::INFINITY),
            Restitution(0.0),
        ))
        .id();
    let mut engine = app.build().unwrap();
    engine.run_ticks(2).unwrap();
    let body = |engine: &Engine, e: Entity| *engine.world().get::<Body>(e).unwrap();
    // Head-on, equal masses, restitution 1: the velocities are exchanged.
    assert_eq!(body(&engine, left).velocity, Vec2::new(-100.0, 0.0));
    assert_eq!(body(&engine, right).velocity, Vec2::new(100.0, 0.0));
    engine.run_ticks(100).unwrap();
    let bounds = Aabb::new(Vec2::ZERO, Vec2::splat(10.0));
    for e in [ball, left, right] {
        let aabb = Collider::circle(1.0).aabb(body(&engine, e).position);
        assert!(bounds.contains(&aabb), "{e:?} stays inside: {aabb:?}");
    }
    assert_eq!(
        body(&engine, wall).position,
        Vec2::new(5.0, 8.0),
        "immovable"
    );
    let log = &engine.world().resource::<Log>().0;
    assert!(
        log.iter().filter(|s| s.kind == "left").count() >= 3,
        "bounces were reported"
    );
}

/// A small xorshift generator, so the scenes need no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next()
    }
}

fn spawn_random_scene(app: &mut App, bodies: usize, seed: u64) {
    let mut rng = Rng(seed);
    for i in 0..bodies {
        let position = Vec2::new(rng.range(1.0, 79.0), rng.range(1.0, 79.0));
        let velocity = Vec2::new(rng.range(-20.0, 20.0), rng.range(-20.0, 20.0));
        let collider = if i % 3 == 0 {
            Collider::rect(rng.range(0.3, 1.5), rng.range(0.3, 1.5))
        } else {
            Collider::circle(rng.range(0.2, 0.8))
        };
        let mut entity = app
            .world_mut()
            .spawn((Body::new(position, velocity), collider));
        if i % 5 == 0 {
            entity.insert((Mass(rng.range(0.5, 4.0)), Restitution(rng.range(0.2, 1.0))));
        }
    }
}

/// Every event of a 60-tick run with resolution, gravity and bounds, plus the final bodies.
fn random_run(executor: ExecutorKind) -> (Vec<Seen>, Vec<[u32; 4]>) {
    let config = PhysicsConfig {
        bounds: Some(Aabb::new(Vec2::ZERO, Vec2::splat(80.0))),
        gravity: Vec2::new(0.0, -9.81),
        resolve: true,
        cell_size: 1.6,
        chunk_len: 64,
        ..PhysicsConfig::default()
    };
    let mut app = app(config, executor);
    spawn_random_scene(&mut app, 1500, 0x5EED);
    let mut engine = app.build().unwrap();
    engine.run_ticks(60).unwrap();
    let events = std::mem::take(&mut engine.world_mut().resource_mut::<Log>().0);
    let mut bodies: Vec<(Entity, Body)> = engine
        .world_mut()
        .query::<(Entity, &Body)>()
        .iter(engine.world())
        .map(|(e, b)| (e, *b))
        .collect();
    bodies.sort_by_key(|(e, _)| entity_order(*e));
    let state = bodies
        .iter()
        .map(|(_, b)| {
            let [px, py] = b.position.to_array().map(f32::to_bits);
            let [vx, vy] = b.velocity.to_array().map(f32::to_bits);
            [px, py, vx, vy]
        })
        .collect();
    (events, state)
}

#[test]
fn event_streams_and_bodies_are_identical_for_any_executor_and_thread_count() {
    let (events, state) = random_run(ExecutorKind::Sequential);
    let started = events.iter().filter(|s| s.kind == "started").count();
    let ended = events.iter().filter(|s| s.kind == "ended").count();
    assert!(
        started > 300 && ended > 100,
        "a busy scene: {started} started, {ended} ended"
    );
    assert!(events.iter().any(|s| s.kind == "left"));
    for threads in [1, 2, 4, 8] {
        let (other_events, other_state) = random_run(ExecutorKind::parallel(threads));
        assert!(
            other_events == events,
            "events differ with {threads} threads"
        );
        assert!(other_state == state, "bodies differ with {threads} threads");
    }
}

#[test]
fn events_come_sorted_by_entity_pair_within_a_tick() {
    let (events, _) = random_run(ExecutorKind::parallel(4));
    for window in events.windows(2) {
        let (x, y) = (&window[0], &window[1]);
        if x.tick == y.tick && x.kind == y.kind {
            let key = |s: &Seen| (entity_order(s.entities.0), s.entities.1.map(entity_order));
            assert!(key(x) < key(y), "{x:?} before {y:?}");
        }
    }
}

fn scene() -> impl Strategy<Value = Vec<(Vec2, Collider)>> {
    let shape = prop_oneof![
        (0.1f32..3.0).prop_map(Collider::circle),
        (0.1f32..4.0, 0.1f32..4.0).prop_map(|(w, h)| Collider::rect(w, h)),
    ];
    let body = (-30.0f32..30.0, -30.0f32..30.0, shape).prop_map(|(x, y, c)| (Vec2::new(x, y), c));
    prop::collection::vec(body, 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn contacts_are_exactly_the_pairs_an_all_pairs_test_finds(bodies in scene(), cell in 0.5f32..8.0) {
        let config = PhysicsConfig { cell_size: cell, ..PhysicsConfig::default() };
        let mut app = app(config, ExecutorKind::parallel(2));
        let entities: Vec<Entity> = bodies
            .iter()
            .map(|&(p, c)| app.world_mut().spawn((Body::new(p, Vec2::ZERO), c)).id())
            .collect();
        let mut engine = app.build().unwrap();
        engine.run_ticks(1).unwrap();
        let mut expected = Vec::new();
        for i in 0..bodies.len() {
            for j in i + 1..bodies.len() {
                let ((pi, ci), (pj, cj)) = (bodies[i], bodies[j]);
                if collide(&ci, pi, &cj, pj).is_some() {
                    expected.push((entities[i], entities[j]));
                }
            }
        }
        let contacts = engine.world().resource::<Contacts>();
        let found: Vec<(Entity, Entity)> = contacts.iter().map(|c| (c.a, c.b)).collect();
        prop_assert_eq!(found, expected);
    }
}

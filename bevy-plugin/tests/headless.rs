//! A headless bevy app (bevy's `ScheduleRunnerPlugin`) running a tickbus simulation: bevy
//! systems see the simulation's state, interpolation data and events through the extract
//! step, with bevy_math's `Vec2` as the physics vector type.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bevy_app::{App as BevyApp, AppExit, ScheduleRunnerPlugin, Update};
use bevy_ecs::prelude::*;
use bevy_math::Vec2;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use tickbus::physics::{Body, Collider, ContactStarted, PhysicsPlugin};
use tickbus::prelude::EventReader;
use tickbus_bevy::{Previous, SimEntity, SimEvent, SimFrame, Simulation, TickbusPlugin};

/// Contacts counted inside the simulation.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq)]
struct Score(u32);

fn score(started: EventReader<ContactStarted>, mut score: ResMut<Score>) {
    score.0 += started.len() as u32;
}

/// What one bevy frame saw.
#[derive(Clone, Debug, Default)]
struct Seen {
    frame: SimFrame,
    /// (simulation entity, position, previous position) of every mirrored body.
    bodies: Vec<(Entity, Vec2, Vec2)>,
    contacts: Vec<(u64, Entity, Entity)>,
    score: Option<Score>,
}

#[derive(Resource, Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

fn observe(
    frame: Res<SimFrame>,
    bodies: Query<(&SimEntity, &Body, &Previous<Body>)>,
    mut contacts: MessageReader<SimEvent<ContactStarted>>,
    score: Option<Res<Score>>,
    log: Res<Log>,
    mut exit: MessageWriter<AppExit>,
) {
    let mut seen = Seen {
        frame: *frame,
        bodies: bodies
            .iter()
            .map(|(sim, body, previous)| (sim.0, body.position, previous.0.position))
            .collect(),
        contacts: contacts
            .read()
            .map(|c| (c.tick, c.event.0.a, c.event.0.b))
            .collect(),
        score: score.map(|score| *score),
    };
    seen.bodies.sort_by_key(|(entity, ..)| entity.index_u32());
    let mut log = log.0.lock().unwrap();
    log.push(seen);
    if log.len() == 12 {
        exit.write(AppExit::Success);
    }
}

#[test]
fn bevy_systems_see_simulation_state_interpolation_and_events() {
    let mut sim = tickbus::App::new();
    sim.set_tick_rate(40) // 25 ms per tick
        .init_resource::<Score>()
        .add_plugins(PhysicsPlugin::default())
        .add_systems(score);
    // One unit per tick towards a box whose near face is at x = 5.
    let mover = sim
        .world_mut()
        .spawn((
            Body::new(Vec2::ZERO, Vec2::new(40.0, 0.0)),
            Collider::circle(1.0),
        ))
        .id();
    let wall = sim
        .world_mut()
        .spawn((
            Body::new(Vec2::new(6.0, 0.0), Vec2::ZERO),
            Collider::rect(2.0, 2.0),
        ))
        .id();
    let engine = sim.build().unwrap();

    let log = Log::default();
    let mut app = BevyApp::new();
    app.add_plugins((ScheduleRunnerPlugin::run_loop(Duration::ZERO), TimePlugin))
        // 30 ms frames over 25 ms ticks: mostly one tick, sometimes two, alpha in between.
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            30,
        )))
        .insert_resource(log.clone())
        .add_plugins(
            TickbusPlugin::new(engine)
                .extract_interpolated::<Body>()
                .extract_resource::<Score>()
                .extract_events::<ContactStarted>(),
        )
        .add_systems(Update, observe);
    assert_eq!(app.run(), AppExit::Success);

    let frames = log.0.lock().unwrap().clone();
    assert_eq!(frames.len(), 12);
    let mut ticks = 0;
    for seen in &frames {
        ticks += u64::from(seen.frame.ticks);
        assert_eq!(
            seen.frame.tick, ticks,
            "the frame reports the ticks run so far"
        );
        assert!((0.0..1.0).contains(&seen.frame.alpha));
        let (entity, position, previous) = seen.bodies[0];
        assert_eq!(entity, mover);
        // The mirror holds the state after the frame's last tick, and the one tick before.
        assert_eq!(position, Vec2::new(ticks as f32, 0.0));
        if ticks > 0 {
            assert_eq!(previous, position - Vec2::X, "previous is one tick back");
        }
        assert_eq!(seen.bodies[1].0, wall);
    }
    assert!(
        frames.iter().any(|seen| seen.frame.ticks == 2),
        "a frame ran two ticks"
    );
    assert!(frames.iter().any(|seen| seen.frame.alpha > 0.0));
    // The circle (radius 1) touches the box face (x = 5) once its centre reaches x = 4: the
    // contact is found in tick 3 and readable during tick 4, delivered to bevy once.
    let contacts: Vec<_> = frames
        .iter()
        .flat_map(|seen| seen.contacts.clone())
        .collect();
    assert_eq!(contacts, [(4, mover, wall)]);
    let last_score = frames.last().unwrap().score;
    assert_eq!(last_score, Some(Score(1)));
}

#[test]
fn a_failing_tick_stops_the_simulation_and_is_reported() {
    let mut sim = tickbus::App::new();
    sim.set_tick_rate(40)
        .add_systems(|time: tickbus::prelude::Res<tickbus::SimTime>| {
            assert!(time.tick() < 2, "boom");
        });
    let mut app = BevyApp::new();
    app.add_plugins(TimePlugin)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            25,
        )))
        .add_plugins(TickbusPlugin::new(sim.build().unwrap()));
    for _ in 0..8 {
        app.update();
    }
    let failure = app.world().resource::<tickbus_bevy::SimFailure>();
    assert_eq!(failure.0.tick(), 2);
    let mut simulation = app.world_mut().resource_mut::<Simulation>();
    assert_eq!(
        simulation.engine_mut().tick_count(),
        3,
        "no tick after the failure"
    );
}

#[test]
fn the_first_frame_shows_the_world_the_startup_systems_made() {
    fn place_body(mut commands: tickbus::prelude::Commands) {
        commands.spawn(Body::new(Vec2::new(3.0, 4.0), Vec2::ZERO));
    }

    let mut sim = tickbus::App::new();
    sim.add_plugins(PhysicsPlugin::default())
        .add_startup_systems(place_body);
    let mut app = BevyApp::new();
    // bevy's first frame has a zero delta: no tick runs in it.
    app.add_plugins(TimePlugin)
        .add_plugins(TickbusPlugin::new(sim.build().unwrap()).extract_component::<Body>());
    app.update();
    assert_eq!(app.world().resource::<SimFrame>().ticks, 0);
    let mut bodies = app.world_mut().query::<&Body>();
    let positions: Vec<Vec2> = bodies.iter(app.world()).map(|body| body.position).collect();
    assert_eq!(positions, [Vec2::new(3.0, 4.0)]);
}

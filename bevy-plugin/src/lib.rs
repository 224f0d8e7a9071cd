//! # tickbus_bevy
//!
//! Runs a tickbus [`Engine`] inside a bevy [`App`], the way bevy runs its
//! render world beside the main world:
//!
//! * the simulation keeps its own deterministic world: the engine's, never bevy's;
//! * every frame, bevy's frame time ([`Time`], so bevy's pause and speed apply) is fed to the
//!   engine's fixed step, which runs whole ticks (capped per frame, see
//!   [`FixedStep`](tickbus::FixedStep)); this happens in bevy's `RunFixedMainLoop` schedule,
//!   in [`RunFixedMainLoopSystems::FixedMainLoop`], where bevy itself would run `FixedMain`,
//!   so systems in `BeforeFixedMainLoop` (input) and `AfterFixedMainLoop` (interpolation)
//!   keep their places;
//! * an extract step then copies what was chosen into bevy's main world for rendering and UI:
//!   components of simulation entities onto mirror entities (marked [`SimEntity`]; with
//!   [`Previous`] for interpolation), resources, and every event readable during a tick of
//!   the frame as a bevy message [`SimEvent`]; [`SimFrame`] carries the interpolation alpha.
//!
//! Bevy systems never touch the simulation world; they send input through the engine's
//! channel sources ([`EventSender`](tickbus::EventSender), cloneable and `Send`), or through
//! [`Simulation::engine_mut`] between frames.
//!
//! Things to know:
//!
//! * **Names.** `tickbus::prelude` and `bevy_app::prelude` both export `App` and `Plugin`, so
//!   glob-importing both makes those two names ambiguous (rustc says so where they are used).
//!   Name one side explicitly, as the example below does (`use bevy_app::App as BevyApp`).
//! * **Stalls.** bevy's virtual clock clamps a frame's delta (250 ms by default,
//!   `Time<Virtual>::set_max_delta`) before the plugin sees it, so a long stall reaches the
//!   simulation as at most that much time: [`SimFrame::dropped`] counts only what the
//!   engine's own per-frame cap dropped, not what bevy clamped first. Raise bevy's max delta
//!   if the simulation must catch up on every stall.
//! * **Startup.** The simulation's startup systems run in the first frame, before the first
//!   extract, even when that frame runs no tick (bevy's first frame has a zero delta); a
//!   startup failure is reported like a tick's, as [`SimFailure`].
//!
//! ```
//! use std::time::Duration;
//!
//! use bevy_app::{App as BevyApp, Update};
//! use bevy_ecs::prelude::*;
//! use bevy_time::{TimePlugin, TimeUpdateStrategy};
//! use tickbus::physics::{Body, PhysicsPlugin, Vec2};
//! use tickbus_bevy::{Previous, SimFrame, TickbusPlugin};
//!
//! // The simulation, built with tickbus's App.
//! let mut sim = tickbus::App::new();
//! sim.set_tick_rate(50).add_plugins(PhysicsPlugin::default());
//! sim.world_mut().spawn(Body::new(Vec2::ZERO, Vec2::new(50.0, 0.0)));
//! let engine = sim.build()?;
//!
//! // The bevy side: it sees the body, interpolated.
//! fn draw(bodies: Query<(&Body, &Previous<Body>)>, frame: Res<SimFrame>) {
//!     for (body, previous) in &bodies {
//!         let _shown = previous.0.position.lerp(body.position, frame.alpha as f32);
//!     }
//! }
//!
//! let mut app = BevyApp::new();
//! app.add_plugins(TimePlugin)
//!     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(20)))
//!     .add_plugins(TickbusPlugin::new(engine).extract_interpolated::<Body>())
//!     .add_systems(Update, draw);
//! for _ in 0..5 {
//!     app.update();
//! }
//! let mut bodies = app.world_mut().query::<&Body>();
//! let body = bodies.single(app.world()).unwrap();
//! assert!(body.position.x > 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod extract;

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use bevy_app::{App, Plugin, RunFixedMainLoop, RunFixedMainLoopSystems};
use bevy_ecs::{
    component::Component,
    entity::Entity,
    message::Message,
    resource::Resource,
    schedule::{IntoScheduleConfigs, SystemSet},
    world::{Mut, World},
};
use bevy_time::Time;
use tickbus::{Engine, Event, TickError};

use extract::{ComponentExtract, EntityMap, EventExtract, Extract, ResourceExtract};

/// Adds a tickbus [`Engine`] to a bevy app and chooses what is copied into bevy's world.
///
/// Needs bevy's `TimePlugin` (part of `MinimalPlugins` and `DefaultPlugins`): the frame time
/// comes from its [`Time`].
pub struct TickbusPlugin {
    parts: Mutex<Option<PluginParts>>,
}

/// The engine and its extract steps, until the plugin is built.
type PluginParts = (Engine, Vec<Box<dyn Extract>>);

impl std::fmt::Debug for TickbusPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickbusPlugin").finish_non_exhaustive()
    }
}

impl TickbusPlugin {
    /// A plugin that runs `engine` and extracts nothing yet.
    pub fn new(engine: Engine) -> Self {
        Self {
            parts: Mutex::new(Some((engine, Vec::new()))),
        }
    }

    fn with(self, extract: Box<dyn Extract>) -> Self {
        let mut parts = self
            .parts
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, extracts)) = &mut parts {
            extracts.push(extract);
        }
        Self {
            parts: Mutex::new(parts),
        }
    }

    /// Copies every simulation entity's `C` onto its mirror entity in bevy's world after
    /// every frame that ran a tick (and after the first frame); removes it from the mirror
    /// when the simulation entity loses it.
    pub fn extract_component<C: Component + Clone>(self) -> Self {
        self.with(Box::new(ComponentExtract::<C>::new(false)))
    }

    /// Like [`extract_component`](Self::extract_component), and also [`Previous<C>`]: `C` as it
    /// was one tick before, for interpolating with [`SimFrame::alpha`].
    pub fn extract_interpolated<C: Component + Clone>(self) -> Self {
        self.with(Box::new(ComponentExtract::<C>::new(true)))
    }

    /// Copies the simulation's resource `R` into bevy's world after every frame that ran a
    /// tick (removing it when the simulation has none).
    pub fn extract_resource<R: Resource + Clone>(self) -> Self {
        self.with(Box::new(ResourceExtract::<R>::default()))
    }

    /// Writes every event of type `T` readable during a tick of the frame as a bevy message
    /// [`SimEvent<T>`], in the order the simulation read them, each exactly once.
    pub fn extract_events<T: Event + Clone>(self) -> Self {
        self.with(Box::new(EventExtract::<T>::default()))
    }
}

impl Plugin for TickbusPlugin {
    fn build(&self, app: &mut App) {
        let (engine, extracts) = self
            .parts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("a TickbusPlugin is built once");
        for extract in &extracts {
            extract.register(app);
        }
        app.insert_resource(Simulation {
            engine: Mutex::new(engine),
            extracts,
            entities: EntityMap::default(),
            extracted_once: false,
        })
        .init_resource::<SimFrame>()
        .add_systems(
            RunFixedMainLoop,
            advance_simulation
                .in_set(TickbusSystems)
                .in_set(RunFixedMainLoopSystems::FixedMainLoop),
        );
    }

    fn finish(&self, app: &mut App) {
        assert!(
            app.world().contains_resource::<Time>(),
            "TickbusPlugin needs bevy's TimePlugin (in MinimalPlugins and DefaultPlugins) for the frame time"
        );
    }
}

/// The set of the system that advances the simulation and extracts its state.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TickbusSystems;

/// The simulation, as a bevy resource: the engine and what is extracted from it.
#[derive(Resource)]
pub struct Simulation {
    engine: Mutex<Engine>,
    extracts: Vec<Box<dyn Extract>>,
    entities: EntityMap,
    extracted_once: bool,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("extracts", &self.extracts.len())
            .field("mirrored_entities", &self.entities.len())
            .finish_non_exhaustive()
    }
}

impl Simulation {
    /// The engine, to send events, read its world or stats, or pause it
    /// (`engine_mut().fixed_step_mut().pause()`) between frames.
    pub fn engine_mut(&mut self) -> &mut Engine {
        self.engine
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The bevy entity mirroring the simulation entity `sim`, once something of it was
    /// extracted.
    pub fn mirror_of(&self, sim: Entity) -> Option<Entity> {
        self.entities.get(sim)
    }

    /// Runs the ticks `frame_time` is worth and extracts into `main`.
    fn frame(&mut self, main: &mut World, frame_time: Duration) {
        if main.contains_resource::<SimFailure>() {
            return;
        }
        let engine = self
            .engine
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let plan = engine.fixed_step_mut().advance(frame_time);
        // The first frame extracts even when it runs no tick: the world it shows must be
        // the one the startup systems made, as the first tick would see it.
        let mut failure = engine.start().err();
        let ticks = if failure.is_some() { 0 } else { plan.ticks };
        for tick in 0..ticks {
            if tick + 1 == ticks {
                for extract in &mut self.extracts {
                    extract.before_last_tick(engine.world_mut());
                }
            }
            let number = engine.tick_count();
            if let Err(error) = engine.tick() {
                failure = Some(error);
            }
            for extract in &mut self.extracts {
                extract.after_tick(engine.world(), main, number);
            }
            if failure.is_some() {
                break;
            }
        }
        if plan.ticks > 0 || !self.extracted_once {
            for extract in &mut self.extracts {
                extract.after_frame(engine.world_mut(), main, &mut self.entities);
            }
            self.entities.despawn_gone(engine.world(), main);
            self.extracted_once = true;
        }
        main.insert_resource(SimFrame {
            tick: engine.tick_count(),
            ticks: plan.ticks,
            dropped: plan.dropped,
            alpha: engine.fixed_step().alpha(),
        });
        if let Some(error) = failure {
            main.insert_resource(SimFailure(error));
        }
    }
}

fn advance_simulation(world: &mut World) {
    let frame_time = world.resource::<Time>().delta();
    world.resource_scope(|world, mut simulation: Mut<Simulation>| {
        simulation.frame(world, frame_time);
    });
}

/// What the last frame did to the simulation, for the render side.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq)]
pub struct SimFrame {
    /// Ticks run since the engine was built (the number of the next tick).
    pub tick: u64,
    /// Ticks run during this frame.
    pub ticks: u32,
    /// Simulation time dropped by the per-frame cap during this frame.
    pub dropped: Duration,
    /// How far the render time is between the last tick and the next, in `[0, 1)`: show
    /// `Previous<C>` lerped towards `C` by this much.
    pub alpha: f64,
}

/// The error that stopped the simulation; once present, no more ticks run.
#[derive(Resource, Clone, Debug, PartialEq, Eq)]
pub struct SimFailure(pub TickError);

/// On a bevy entity: the simulation entity it mirrors.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimEntity(pub Entity);

/// On a bevy entity: the value of `C` one tick before the extracted one (see
/// [`TickbusPlugin::extract_interpolated`]).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Previous<C>(pub C);

/// A simulation event, as a bevy message: the event and the tick during which the
/// simulation read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimEvent<T> {
    /// The tick during which it was readable in the simulation.
    pub tick: u64,
    /// The event.
    pub event: T,
}

impl<T: Event> Message for SimEvent<T> {}

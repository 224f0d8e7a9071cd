//! The builder users touch: events, sources, systems, plugins, resources, tick rate, executor.

use std::time::Duration;

use bevy_ecs::{
    resource::Resource,
    world::{FromWorld, World},
};

use crate::{
    BuildError, Engine, Event, EventSender, SourceConfig,
    ingest::{Collect, InputSource},
    queue::registry::ensure_queue,
    schedule::{ExecutorKind, IntoSystemConfig, SystemConfig},
};

/// Default tick rate of a new app: 60 ticks per second.
pub const DEFAULT_TICK_RATE: u32 = 60;

/// A piece of setup that adds events, systems and resources to an app.
///
/// Any `Fn(&mut App)` is a plugin.
pub trait Plugin {
    /// Adds this plugin's parts to `app`.
    fn build(&self, app: &mut App);
}

impl<F: Fn(&mut App)> Plugin for F {
    fn build(&self, app: &mut App) {
        self(app);
    }
}

/// Collects everything an [`Engine`] is made of, then [`build`](App::build)s it.
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Debug, Clone, Copy)]
/// struct Ping(u64);
///
/// fn ping(mut out: EventWriter<Ping>, time: Res<Time>) {
///     out.send(Ping(time.tick()));
/// }
///
/// let mut app = App::new();
/// app.add_event::<Ping>().set_tick_rate(120).add_system(ping);
/// let mut engine = app.build().expect("a valid schedule");
/// engine.run_ticks(3).unwrap();
/// assert_eq!(engine.tick_count(), 3);
/// ```
pub struct App {
    world: World,
    systems: Vec<SystemConfig>,
    timers: Vec<Box<dyn Collect>>,
    sources: Vec<Box<dyn Collect>>,
    executor: ExecutorKind,
    dt: Duration,
    max_ticks_per_frame: u32,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An empty app: 60 ticks per second, the rayon executor on all cores.
    pub fn new() -> Self {
        Self {
            world: World::new(),
            systems: Vec::new(),
            timers: Vec::new(),
            sources: Vec::new(),
            executor: ExecutorKind::default(),
            dt: Duration::from_secs(1) / DEFAULT_TICK_RATE,
            max_ticks_per_frame: crate::DEFAULT_MAX_TICKS_PER_FRAME,
        }
    }

    /// Registers the queue of `T`. (Readers and writers register it too on first use; calling
    /// this fixes its place in the stats order.)
    pub fn add_event<T: Event>(&mut self) -> &mut Self {
        ensure_queue::<T>(&mut self.world);
        self
    }

    /// Registers a channel source feeding the queue of `T` and returns its sender. Sources are
    /// drained at the start of every tick in the order they were added.
    pub fn add_source<T: Event>(&mut self, config: SourceConfig) -> EventSender<T> {
        ensure_queue::<T>(&mut self.world);
        let (tx, rx) = match config.capacity {
            Some(capacity) => crossbeam_channel::bounded(capacity),
            None => crossbeam_channel::unbounded(),
        };
        let name = config
            .name
            .unwrap_or_else(|| std::any::type_name::<T>().to_owned());
        self.sources
            .push(Box::new(InputSource::new(name, rx, config.budget)));
        EventSender::new(tx)
    }

    /// The first channel source of event type `T` (to attach a recording tap or a replay
    /// feed before the engine is built).
    pub fn source_mut<T: Event>(&mut self) -> Option<&mut InputSource<T>> {
        crate::ingest::find_source(&mut self.sources)
    }

    /// Adds a collector that runs before every channel source (timers).
    #[allow(dead_code)]
    pub(crate) fn add_timer_collector(&mut self, collector: Box<dyn Collect>) -> &mut Self {
        self.timers.push(collector);
        self
    }

    /// Adds a system (a bevy_ecs system, optionally configured with `after`, `before`,
    /// `in_set`, `run_if`). Registration order is the tie-breaker of every conflict.
    pub fn add_system<M>(&mut self, system: impl IntoSystemConfig<M>) -> &mut Self {
        self.systems.push(system.into_config());
        self
    }

    /// Lets `plugin` add its parts.
    pub fn add_plugin(&mut self, plugin: impl Plugin) -> &mut Self {
        plugin.build(self);
        self
    }

    /// Inserts (or replaces) a resource.
    pub fn insert_resource<R: Resource>(&mut self, resource: R) -> &mut Self {
        self.world.insert_resource(resource);
        self
    }

    /// Inserts a resource made from the world (or its `Default`), unless one exists.
    pub fn init_resource<R: Resource + FromWorld>(&mut self) -> &mut Self {
        self.world.init_resource::<R>();
        self
    }

    /// Inserts a resource that is not `Send`; systems using it run on the driving thread.
    pub fn insert_non_send_resource<R: 'static>(&mut self, resource: R) -> &mut Self {
        self.world.insert_non_send(resource);
        self
    }

    /// The world, for setup the builder has no method for (spawning initial entities, …).
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Sets the tick rate in ticks per second (0 is refused by `build`).
    pub fn set_tick_rate(&mut self, ticks_per_second: u32) -> &mut Self {
        self.dt = match ticks_per_second {
            0 => Duration::ZERO,
            rate => Duration::from_secs(1) / rate,
        };
        self
    }

    /// Sets the tick length directly (from 1 ns to [`MAX_TICK_LENGTH`](crate::MAX_TICK_LENGTH);
    /// `build` refuses others).
    pub fn set_tick_length(&mut self, dt: Duration) -> &mut Self {
        self.dt = dt;
        self
    }

    /// Caps the ticks one real-time frame may run (the spiral-of-death clamp); 0 counts as 1.
    pub fn set_max_ticks_per_frame(&mut self, max: u32) -> &mut Self {
        self.max_ticks_per_frame = max.max(1);
        self
    }

    /// Chooses the executor (default: rayon on all cores).
    pub fn set_executor(&mut self, executor: ExecutorKind) -> &mut Self {
        self.executor = executor;
        self
    }

    /// Shorthand for the rayon executor with `threads` threads.
    pub fn set_threads(&mut self, threads: usize) -> &mut Self {
        self.set_executor(ExecutorKind::parallel(threads))
    }

    /// Initializes every system, builds the graph and the executor.
    pub fn build(self) -> Result<Engine, BuildError> {
        if self.dt.is_zero() {
            return Err(BuildError::ZeroTickLength);
        }
        if self.dt > crate::MAX_TICK_LENGTH {
            return Err(BuildError::TickLengthTooLong { length: self.dt });
        }
        Engine::new(crate::engine::EngineParts {
            world: self.world,
            systems: self.systems,
            timers: self.timers,
            sources: self.sources,
            executor: self.executor,
            dt: self.dt,
            max_ticks_per_frame: self.max_ticks_per_frame,
        })
    }
}

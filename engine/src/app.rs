//! The builder users touch: events, sources, systems, plugins, resources, tick rate, executor.

use std::time::Duration;

use bevy_ecs::{
    component::Mutable,
    resource::Resource,
    schedule::{InternedSystemSet, IntoScheduleConfigs},
    system::{IntoSystem, ScheduleSystem},
    world::{FromWorld, World},
};

use crate::{
    BuildError, Engine, Event, EventSender, SourceConfig,
    ingest::{Collect, InputSource},
    queue::{
        fold::{EventFoldSystems, EventFolds, merge_system, run_event_folds},
        registry::ensure_queue,
    },
    schedule::{ExecutorKind, config::SystemsConfig},
    source::input::source_channel,
};

/// Default tick rate of a new app: 60 ticks per second.
pub const DEFAULT_TICK_RATE: u32 = 60;

/// A piece of setup that adds events, systems and resources to an app, as in bevy_app.
///
/// Any `Fn(&mut App)` is a plugin, and so is a tuple of plugins (added left to right).
pub trait Plugin {
    /// Adds this plugin's parts to `app`.
    fn build(&self, app: &mut App);
}

impl<F: Fn(&mut App)> Plugin for F {
    fn build(&self, app: &mut App) {
        self(app);
    }
}

macro_rules! impl_plugin_tuple {
    ($($plugin:ident),+) => {
        impl<$($plugin: Plugin),+> Plugin for ($($plugin,)+) {
            #[allow(non_snake_case)]
            fn build(&self, app: &mut App) {
                let ($($plugin,)+) = self;
                $($plugin.build(app);)+
            }
        }
    };
}

impl_plugin_tuple!(A);
impl_plugin_tuple!(A, B);
impl_plugin_tuple!(A, B, C);
impl_plugin_tuple!(A, B, C, D);
impl_plugin_tuple!(A, B, C, D, E);
impl_plugin_tuple!(A, B, C, D, E, F);
impl_plugin_tuple!(A, B, C, D, E, F, G);
impl_plugin_tuple!(A, B, C, D, E, F, G, H);

/// Collects everything an [`Engine`] is made of, then [`build`](App::build)s it.
///
/// Systems are configured with bevy_ecs's own scheduling vocabulary
/// ([`IntoScheduleConfigs`]: `.chain()`, `.after()`, `.before()`, `.in_set()`, `.run_if()`,
/// typed sets from `#[derive(SystemSet)]`), all re-exported by [`prelude`](crate::prelude).
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Debug, Clone, Copy)]
/// struct Ping(u64);
///
/// #[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
/// enum Phase {
///     Input,
///     Simulate,
/// }
///
/// #[derive(Resource)]
/// struct Paused(bool);
///
/// fn read_input() {}
/// fn ping(mut out: EventWriter<Ping>, time: Res<SimTime>) {
///     out.send(Ping(time.tick()));
/// }
/// fn count_pings(pings: EventReader<Ping>) {}
///
/// let mut app = App::new();
/// app.insert_resource(Paused(false))
///     .set_tick_rate(120)
///     .configure_sets(
///         (Phase::Input, Phase::Simulate)
///             .chain()
///             .run_if(|paused: Res<Paused>| !paused.0),
///     )
///     .add_systems(read_input.in_set(Phase::Input))
///     .add_systems((ping, count_pings).chain().in_set(Phase::Simulate));
/// let mut engine = app.build().expect("a valid schedule");
/// engine.run_ticks(3).unwrap();
/// assert_eq!(engine.tick_count(), 3);
/// println!("{}", engine.schedule_plan()); // sets, orders and why
/// ```
pub struct App {
    world: World,
    systems: SystemsConfig,
    startup: SystemsConfig,
    timers: Vec<Box<dyn Collect>>,
    sources: Vec<Box<dyn Collect>>,
    executor: ExecutorKind,
    dt: Duration,
    max_ticks_per_frame: u32,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("systems", &self.systems)
            .field("startup", &self.startup)
            .field("sources", &self.sources.len())
            .field("executor", &self.executor)
            .field("dt", &self.dt)
            .field("max_ticks_per_frame", &self.max_ticks_per_frame)
            .finish_non_exhaustive()
    }
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An empty app: 60 ticks per second, the parallel executor on all cores.
    pub fn new() -> Self {
        Self {
            world: World::new(),
            systems: SystemsConfig::default(),
            startup: SystemsConfig::default(),
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

    /// Adds a fold over every event of type `E`: a reader that the engine runs together with
    /// the other folds of `E`, chunk by chunk, spread over its threads when that pays.
    ///
    /// Every tick, the events an [`EventReader<E>`](crate::EventReader) would see are cut into
    /// chunks of [`FOLD_CHUNK_BYTES`](crate::FOLD_CHUNK_BYTES); `fold` turns each chunk into a
    /// partial result, on whichever thread takes the chunk, and every fold of `E` reads a
    /// chunk while it is in the cache, so the folds stream the tick's events from memory once
    /// however many there are. Then `merge` adds the partials to the resource `R` (made
    /// from the world or its `Default` unless it exists), on one thread, in chunk order, in
    /// the same tick. Chunk boundaries do not depend on the thread count, so the result is
    /// the same on every executor and thread count, even for partials that do not commute,
    /// as long as `fold` depends on its chunk only (below).
    ///
    /// Use folds for readers that reduce many events to a little state (counts, sums,
    /// histograms, the few events that pass a filter); a reader that needs other system
    /// parameters stays an [`EventReader`](crate::EventReader) system. `fold` must depend on
    /// its chunk only (no shared counters or locks): which thread folds which chunk, and
    /// when, varies from tick to tick. It may even run a tick early, while the events are
    /// written (below), so the events' values must not change after they were sent (an event
    /// holding a shared cell that a system changes before the folds run could be folded with
    /// either value).
    ///
    /// The folds of `E` run in one system, and each fold's merge in a system of its own (named
    /// after `E` and `R` in plans, errors and traces), added here, all in the set
    /// [`EventFoldSystems`](crate::EventFoldSystems): order against it
    /// (`.after(EventFoldSystems)`) or give it run conditions with
    /// [`configure_sets`](Self::configure_sets). Systems that use `R` and are added later
    /// run after the merge without being told, as conflicting systems run in registration
    /// order; a system added earlier (by a plugin, say) needs `.after(EventFoldSystems)` to
    /// see this tick's merge. If `fold` panics on a chunk, every other chunk, and every other
    /// fold's share of that chunk, is still folded and merged, and the tick fails naming the
    /// folds' system (the panic of the lowest chunk, first fold first, on every executor).
    ///
    /// A large batch ([`WRITE_FOLD_MIN_BYTES`](crate::WRITE_FOLD_MIN_BYTES) or more through
    /// [`EventWriter::send_batch`](crate::EventWriter::send_batch)) is folded while it is
    /// written, inside the writer system and on the engine's idle workers, a tick before
    /// the merge; the partial results wait for the tick that reads the events, and are merged
    /// there as above. So `fold` may run while the writer system runs: one more reason for it
    /// to take no lock a writer might hold. A fold that panics at write time is folded again
    /// when the events are read, and fails that tick as above.
    ///
    /// ```
    /// use tickbus::prelude::*;
    ///
    /// #[derive(Debug, Clone, Copy)]
    /// struct Hit {
    ///     damage: u32,
    /// }
    ///
    /// #[derive(Resource, Default)]
    /// struct DamageTaken(u64);
    ///
    /// #[derive(Resource, Default)]
    /// struct BigHits(Vec<u32>);
    ///
    /// fn attack(mut hits: EventWriter<Hit>) {
    ///     hits.send_batch((0..10_000).map(|damage| Hit { damage }));
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_systems(attack)
    ///     .add_event_fold(
    ///         |hits: &[Hit]| hits.iter().map(|hit| u64::from(hit.damage)).sum::<u64>(),
    ///         |total: &mut DamageTaken, chunk_total| total.0 += chunk_total,
    ///     )
    ///     .add_event_fold(
    ///         |hits: &[Hit]| -> Vec<u32> {
    ///             hits.iter().map(|hit| hit.damage).filter(|&d| d >= 9_998).collect()
    ///         },
    ///         |big: &mut BigHits, chunk_hits| big.0.extend(chunk_hits),
    ///     );
    /// let mut engine = app.build().unwrap();
    /// engine.run_ticks(2).unwrap(); // a tick's hits are read in the next tick
    /// assert_eq!(engine.world().resource::<DamageTaken>().0, 49_995_000);
    /// assert_eq!(engine.world().resource::<BigHits>().0, [9_998, 9_999]);
    /// ```
    pub fn add_event_fold<E, R, P, F>(
        &mut self,
        fold: F,
        merge: impl FnMut(&mut R, P) + Send + Sync + 'static,
    ) -> &mut Self
    where
        E: Event,
        R: Resource<Mutability = Mutable> + FromWorld,
        P: Send + Sync + 'static,
        F: Fn(&[E]) -> P + Send + Sync + 'static,
    {
        ensure_queue::<E>(&mut self.world);
        self.world.init_resource::<R>();
        let event = std::any::type_name::<E>();
        if !self.world.contains_resource::<EventFolds<E>>() {
            self.world.insert_resource(EventFolds::<E>::default());
            let folds = IntoSystem::into_system(run_event_folds::<E>)
                .with_name(format!("event folds of {event}"));
            self.add_systems(folds.in_set(EventFoldSystems));
        }
        let index = self.world.resource_mut::<EventFolds<E>>().push(fold);
        let merge =
            IntoSystem::into_system(merge_system::<E, R, P, F>(index, merge)).with_name(format!(
                "merge of event fold {index} of {event} into {}",
                std::any::type_name::<R>()
            ));
        self.add_systems(merge.in_set(EventFoldSystems))
    }

    /// Registers a channel source feeding the queue of `T` and returns its sender. Sources are
    /// drained at the start of every tick in the order they were added.
    pub fn add_source<T: Event>(&mut self, config: SourceConfig) -> EventSender<T> {
        ensure_queue::<T>(&mut self.world);
        let (sender, channel) = source_channel::<T>(config.capacity);
        let name = config
            .name
            .unwrap_or_else(|| std::any::type_name::<T>().to_owned());
        self.sources
            .push(Box::new(InputSource::new(name, channel, config.budget)));
        sender
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

    /// Adds systems that run every tick: a system or a tuple of them, configured as in bevy
    /// (`.chain()`, `.after()`, `.before()`, `.in_set()`, `.run_if()`; what bevy's
    /// `app.add_systems(FixedUpdate, ..)` takes).
    ///
    /// Registration order is the order systems are added (left to right in a tuple); it is
    /// the tie-breaker of every access conflict that no explicit order decides, so nothing is
    /// ever ambiguous. A set's run conditions are evaluated at most once per tick, right
    /// before the first system of the set runs, as bevy does; a system skipped by a run
    /// condition misses that tick's events. Deferred work (`Commands`, event writes) is
    /// applied in registration order at the end of the tick, and before every exclusive
    /// system for the systems that ran since the previous one (bevy's sync point in front of
    /// an exclusive system; bevy's `ApplyDeferred` is an exclusive system, so it is such a
    /// point too). bevy's automatic sync points between ordinary systems have no counterpart
    /// here: the `*_ignore_deferred` orders act like plain ones, and so do bevy's weak orders
    /// (`before_weak`, `chain_weak`: bevy drops them between systems that do not conflict,
    /// but which orders were weak is private to bevy, so tickbus keeps them all).
    /// `ambiguous_with` has nothing to silence: conflicts are never ambiguous here.
    ///
    /// A system that spawns entities while it runs and could run beside another system with
    /// `Commands` must be declared a member of [`Spawners`](crate::Spawners)
    /// (`spawn_bullets.in_set(Spawners)`), so its entity ids do not depend on thread timing.
    pub fn add_systems<M>(
        &mut self,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.systems.add_systems(systems);
        self
    }

    /// Shorthand for [`add_systems`](Self::add_systems) with one system.
    pub fn add_system<M>(
        &mut self,
        system: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.add_systems(system)
    }

    /// Configures system sets of the tick: their order (`(A, B).chain()`), sets in sets
    /// (`A.in_set(B)`), run conditions (`A.run_if(..)`), as bevy's `configure_sets` does.
    /// Sets are typed (`#[derive(SystemSet)]`), so a misspelt set does not compile.
    pub fn configure_sets<M>(
        &mut self,
        sets: impl IntoScheduleConfigs<InternedSystemSet, M>,
    ) -> &mut Self {
        self.systems.configure_sets(sets);
        self
    }

    /// Adds systems that run once, before tick 0 (bevy's `Startup`), on the calling thread
    /// in their run order (registration order unless ordered otherwise), each one's deferred
    /// work applied right after it: a later startup system sees the entities an earlier one
    /// spawned, and events they send are readable in tick 0. They see
    /// [`SimTime`](crate::SimTime) at tick 0. Like bevy's `Startup`, they are a schedule of
    /// their own: they may be ordered among themselves, and sets configured with
    /// [`configure_sets`](Self::configure_sets) (order, run conditions) apply to the tick's
    /// systems only. They run at the first [`Engine::tick`](crate::Engine::tick), or earlier
    /// with [`Engine::start`](crate::Engine::start); a failing startup system does not stop
    /// the others, and its error is returned instead of tick 0 (see `Engine::start`).
    pub fn add_startup_systems<M>(
        &mut self,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.startup.add_systems(systems);
        self
    }

    /// Lets `plugins` add their parts: one plugin, or a tuple of them (bevy's `add_plugins`).
    pub fn add_plugins(&mut self, plugins: impl Plugin) -> &mut Self {
        plugins.build(self);
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

    /// Chooses the executor (default: the parallel executor on all cores).
    pub fn set_executor(&mut self, executor: ExecutorKind) -> &mut Self {
        self.executor = executor;
        self
    }

    /// Shorthand for the parallel executor with `threads` threads (the driving thread
    /// included).
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
            startup: self.startup,
            timers: self.timers,
            sources: self.sources,
            executor: self.executor,
            dt: self.dt,
            max_ticks_per_frame: self.max_ticks_per_frame,
        })
    }
}

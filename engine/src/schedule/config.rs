//! How users describe systems: with bevy_ecs's own scheduling vocabulary.
//!
//! [`App::add_systems`](crate::App::add_systems) takes anything bevy's `Schedule::add_systems`
//! takes (`IntoScheduleConfigs<ScheduleSystem, M>`: a system, a tuple, `.chain()`, `.after()`,
//! `.before()`, `.in_set()`, `.run_if()`), and [`App::configure_sets`](crate::App::configure_sets)
//! what `Schedule::configure_sets` takes. tickbus defines no scheduling trait of its own, so
//! `bevy_ecs::prelude::*` and `tickbus::prelude::*` can be glob-imported together. What
//! tickbus adds to bevy's vocabulary is a set: [`Spawners`], the systems that may allocate
//! entity ids while they run.
//!
//! The configurations are collected into a private bevy [`Schedule`], which is never built or
//! run: its public graph (systems, sets, hierarchy, dependencies, conditions) is read once by
//! [`flatten`](super::flatten) into tickbus's own deterministic graph when the engine is built.

use bevy_ecs::{
    schedule::{
        InternedSystemSet, IntoScheduleConfigs, Schedule, ScheduleBuildSettings, SystemSet,
    },
    system::ScheduleSystem,
};

/// The systems of one schedule of an app (the tick, or startup), with their sets, orders and
/// run conditions, in the order they were added.
pub(crate) struct SystemsConfig {
    pub(crate) schedule: Schedule,
}

impl Default for SystemsConfig {
    fn default() -> Self {
        let mut schedule = Schedule::default();
        // Node names in tickbus's messages and plan are short and do not list sets (the plan
        // shows set membership itself).
        schedule.set_build_settings(ScheduleBuildSettings {
            report_sets: false,
            ..ScheduleBuildSettings::new()
        });
        Self { schedule }
    }
}

impl std::fmt::Debug for SystemsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemsConfig")
            .field("systems", &self.schedule.graph().systems.len())
            .field("sets", &self.schedule.graph().system_sets.len())
            .finish()
    }
}

impl SystemsConfig {
    /// Adds systems, as bevy's `Schedule::add_systems` does. Registration order is the order
    /// in which systems are added (left to right within a tuple).
    pub(crate) fn add_systems<M>(&mut self, systems: impl IntoScheduleConfigs<ScheduleSystem, M>) {
        self.schedule.add_systems(systems);
    }

    /// Configures sets (order between sets, sets in sets, run conditions on sets), as bevy's
    /// `Schedule::configure_sets` does.
    pub(crate) fn configure_sets<M>(
        &mut self,
        sets: impl IntoScheduleConfigs<InternedSystemSet, M>,
    ) {
        self.schedule.configure_sets(sets);
    }

    /// True when no system was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.schedule.graph().systems.is_empty()
    }
}

/// The systems that allocate entity ids while they run (`Commands::spawn`, `spawn_empty`,
/// `spawn_batch`, …): put a spawning system in this set, with bevy's own `.in_set(Spawners)`.
///
/// bevy hands out an entity id the moment `Commands::spawn` is called, from one shared
/// allocator. A member of this set therefore runs in registration order against every other
/// system with deferred buffers (`Commands`, see [`EdgeReason::SpawnOrder`]), so its ids never
/// depend on thread timing, while systems that use `Commands` only to insert, remove or
/// despawn keep running in parallel.
///
/// The declaration is a set rather than a method of its own, so it composes like any bevy
/// configuration (`(fire, split).in_set(Spawners)`, or a whole phase with
/// `configure_sets(Phase::Combat.in_set(Spawners))`) and adds no trait whose method names
/// could clash with `bevy_ecs::prelude`'s. It adds no order between its members beyond the
/// spawn order, and it has no run conditions.
///
/// Only needed where a spawner could otherwise run at the same time as another `Commands`
/// user: a spawner that the schedule orders against all of them anyway (conflicting data,
/// explicit orders) may spawn without it. A system that spawns where it may not fails the
/// tick with [`TickError::UndeclaredSpawn`](crate::TickError::UndeclaredSpawn), naming it.
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Component)]
/// struct Bullet;
///
/// fn fire(mut commands: Commands) {
///     commands.spawn(Bullet);
/// }
/// fn expire(mut commands: Commands, bullets: Query<Entity, With<Bullet>>) {
///     bullets.iter().skip(8).for_each(|bullet| commands.entity(bullet).despawn());
/// }
///
/// let mut app = App::new();
/// app.add_systems((fire.in_set(Spawners), expire));
/// let mut engine = app.build().unwrap();
/// engine.run_ticks(20).unwrap();
/// ```
///
/// [`EdgeReason::SpawnOrder`]: super::EdgeReason::SpawnOrder
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spawners;

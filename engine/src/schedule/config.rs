//! How a user describes a system: the system itself, its sets, its order and its run conditions.

use std::{any::TypeId, borrow::Cow};

use bevy_ecs::{
    schedule::{BoxedCondition, SystemCondition},
    system::{IntoSystem, ScheduleSystem},
};

/// A named group of systems ("phase"), used as a target of `after` / `before`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SetName(pub Cow<'static, str>);

impl std::fmt::Display for SetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an explicit order points at: every system of a set, or every instance of a system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderTarget {
    /// All systems in the named set.
    Set(SetName),
    /// All systems built from this system type (a fn system is its own type).
    System {
        /// The system type.
        type_id: TypeId,
        /// Its name, for messages.
        name: String,
    },
}

impl std::fmt::Display for OrderTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderTarget::Set(set) => write!(f, "set \"{set}\""),
            OrderTarget::System { name, .. } => write!(f, "system {name}"),
        }
    }
}

/// Marker for [`IntoOrderTarget`] on set names.
pub struct SetMarker;
/// Marker for [`IntoOrderTarget`] on systems.
pub struct SystemMarker<M>(std::marker::PhantomData<M>);

/// Anything `after` / `before` accept: a set name (`&'static str` or `String`) or a system.
pub trait IntoOrderTarget<Marker> {
    /// Converts into the target.
    fn into_target(self) -> OrderTarget;
}

impl IntoOrderTarget<SetMarker> for &'static str {
    fn into_target(self) -> OrderTarget {
        OrderTarget::Set(SetName(Cow::Borrowed(self)))
    }
}

impl IntoOrderTarget<SetMarker> for String {
    fn into_target(self) -> OrderTarget {
        OrderTarget::Set(SetName(Cow::Owned(self)))
    }
}

impl<M, S: IntoSystem<(), (), M>> IntoOrderTarget<SystemMarker<M>> for S {
    fn into_target(self) -> OrderTarget {
        let system = IntoSystem::into_system(self);
        OrderTarget::System {
            type_id: bevy_ecs::system::System::system_type(&system),
            name: bevy_ecs::system::System::name(&system)
                .shortname()
                .to_string(),
        }
    }
}

/// A system with its sets, explicit order and run conditions, ready to add to an app.
pub struct SystemConfig {
    pub(crate) system: ScheduleSystem,
    pub(crate) sets: Vec<SetName>,
    pub(crate) after: Vec<OrderTarget>,
    pub(crate) before: Vec<OrderTarget>,
    pub(crate) conditions: Vec<BoxedCondition>,
    pub(crate) spawns: bool,
}

impl SystemConfig {
    fn new(system: ScheduleSystem) -> Self {
        Self {
            system,
            sets: Vec::new(),
            after: Vec::new(),
            before: Vec::new(),
            conditions: Vec::new(),
            spawns: false,
        }
    }
}

/// Marker for [`IntoSystemConfig`] on a ready [`SystemConfig`].
pub struct ConfigMarker;

/// Turns a system (or a config) into a [`SystemConfig`], with builder methods for order,
/// sets and run conditions.
///
/// ```
/// use tickbus::prelude::*;
///
/// fn integrate() {}
/// fn collide() {}
/// fn score() {}
/// # #[derive(Resource)] struct Paused(bool);
///
/// let mut app = App::new();
/// app.insert_resource(Paused(false))
///     .add_system(integrate.in_set("physics"))
///     .add_system(collide.in_set("physics").after(integrate))
///     .add_system(score.after("physics").run_if(|p: Res<Paused>| !p.0));
/// let engine = app.build().unwrap();
/// println!("{}", engine.schedule_plan());
/// ```
pub trait IntoSystemConfig<Marker>: Sized {
    /// Converts into a config.
    fn into_config(self) -> SystemConfig;

    /// Puts the system in a named set (a phase other systems can order against).
    fn in_set(self, set: impl Into<Cow<'static, str>>) -> SystemConfig {
        let mut config = self.into_config();
        config.sets.push(SetName(set.into()));
        config
    }

    /// Runs the system after every system matching `target`.
    fn after<M>(self, target: impl IntoOrderTarget<M>) -> SystemConfig {
        let mut config = self.into_config();
        config.after.push(target.into_target());
        config
    }

    /// Runs the system before every system matching `target`.
    fn before<M>(self, target: impl IntoOrderTarget<M>) -> SystemConfig {
        let mut config = self.into_config();
        config.before.push(target.into_target());
        config
    }

    /// Runs the system only in ticks where `condition` returns true. Several conditions must
    /// all hold. A skipped system misses that tick's events.
    fn run_if<M>(self, condition: impl SystemCondition<M>) -> SystemConfig {
        let mut config = self.into_config();
        config
            .conditions
            .push(Box::new(IntoSystem::into_system(condition)));
        config
    }

    /// Declares that the system allocates entity ids while it runs (`Commands::spawn`,
    /// `spawn_empty`, `spawn_batch`, …). It then runs in registration order against every
    /// other system with deferred buffers (`Commands`), so its ids never depend on thread
    /// timing; systems that use `Commands` without spawning keep running in parallel.
    ///
    /// Only needed where such a system could otherwise run at the same time as another
    /// `Commands` user: a spawner that the schedule orders against all of them anyway
    /// (conflicting data, explicit orders) may spawn without it. A system that spawns where it
    /// may not fails the tick with
    /// [`TickError::UndeclaredSpawn`](crate::TickError::UndeclaredSpawn), naming it.
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
    /// app.add_system(fire.spawns()).add_system(expire);
    /// let mut engine = app.build().unwrap();
    /// engine.run_ticks(20).unwrap();
    /// ```
    fn spawns(self) -> SystemConfig {
        let mut config = self.into_config();
        config.spawns = true;
        config
    }
}

impl<M, S: IntoSystem<(), (), M>> IntoSystemConfig<SystemMarker<M>> for S {
    fn into_config(self) -> SystemConfig {
        SystemConfig::new(Box::new(IntoSystem::into_system(self)))
    }
}

impl IntoSystemConfig<ConfigMarker> for SystemConfig {
    fn into_config(self) -> SystemConfig {
        self
    }
}

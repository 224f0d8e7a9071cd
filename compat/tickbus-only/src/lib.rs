//! Code as a crate that depends on tickbus alone writes it: no `bevy_ecs` in its manifest, so
//! bevy's `#[derive(Component)]`, `#[derive(Resource)]` and `#[derive(SystemSet)]` must find
//! their paths through `tickbus::prelude` (which brings `bevy_ecs` into scope). The tests use
//! the query and scheduling items bevy's prelude offers, and run the README's examples
//! (extracted by `build.rs`).

use tickbus::prelude::*;

/// Where something is.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Position(pub f32);

/// How fast it goes.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Speed(pub f32);

/// A marker for things that never move.
#[derive(Component)]
pub struct Anchored;

/// A running total.
#[derive(Resource, Default, Debug)]
pub struct Moves(pub u32);

/// The phases of a tick.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Things move.
    Motion,
    /// Totals are taken.
    Report,
}

/// What moves: `Ref`, `Has`, `Or`, `With`, `Changed`.
type Movers<'w, 's> = Query<
    'w,
    's,
    (&'static mut Position, Ref<'static, Speed>, Has<Anchored>),
    Or<(With<Speed>, Changed<Position>)>,
>;

/// The two views of `bookkeeping`: `ParamSet`, `Added`, `AnyOf`.
type Views<'w, 's> = ParamSet<
    'w,
    's,
    (
        Query<'static, 'static, &'static mut Position, Added<Speed>>,
        Query<'static, 'static, AnyOf<(&'static Position, &'static Speed)>>,
    ),
>;

/// Moves everything that is not anchored, with bevy's query filters.
pub fn step(mut movers: Movers, time: Res<SimTime>, mut moves: ResMut<Moves>) {
    for (mut position, speed, anchored) in &mut movers {
        if !anchored {
            position.0 += speed.0 * time.delta_secs();
            moves.0 += 1;
        }
    }
}

/// Uses the rest of the common query items: `Added`, `AnyOf`, `Mut`, `ParamSet`, `Single`,
/// `Local`, `Commands`.
pub fn bookkeeping(
    mut sets: Views,
    report: Option<Single<&Speed, With<Anchored>>>,
    mut seen: Local<u32>,
    mut commands: Commands,
) {
    for position in &mut sets.p0() {
        let position: Mut<Position> = position;
        let _ = position;
    }
    *seen += sets.p1().iter().count() as u32;
    if report.is_none() && *seen > 1000 {
        commands.spawn(Anchored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_queries_and_sets_work_with_tickbus_alone() {
        let mut app = App::new();
        app.set_tick_rate(10)
            .init_resource::<Moves>()
            .configure_sets((Phase::Motion, Phase::Report).chain())
            .add_systems((
                step.in_set(Phase::Motion),
                bookkeeping.in_set(Phase::Report),
            ));
        app.world_mut().spawn((Position(0.0), Speed(10.0)));
        app.world_mut()
            .spawn((Position(5.0), Speed(10.0), Anchored));
        let mut engine = app.build().expect("a valid schedule");
        engine.run_ticks(3).expect("no system fails");
        let world = engine.world_mut();
        let mut positions: Vec<f32> = world
            .query::<&Position>()
            .iter(world)
            .map(|p| p.0)
            .collect();
        positions.sort_by(f32::total_cmp);
        assert_eq!(positions, [3.0, 5.0]);
        assert_eq!(world.resource::<Moves>().0, 3);
    }

    mod readme {
        include!(concat!(env!("OUT_DIR"), "/readme.rs"));
    }
}

/// bevy's derives with items imported one by one, not by glob: `use tickbus::bevy_ecs` is
/// what the derives need (see the docs of `tickbus::prelude`).
pub mod explicit_imports {
    use tickbus::bevy_ecs;
    use tickbus::prelude::{Component, Resource, SystemSet};

    /// A component derived without the glob import.
    #[derive(Component)]
    pub struct Armor(pub u32);

    /// A resource derived without the glob import.
    #[derive(Resource)]
    pub struct Round(pub u32);

    /// A set derived without the glob import.
    #[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
    pub struct Combat;
}

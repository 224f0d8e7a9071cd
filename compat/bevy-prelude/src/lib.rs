//! A bevy user's imports: both preludes as globs. This crate compiling is the test that no
//! name is ambiguous (bevy's `after`/`before`/`run_if`/`in_set`/`chain` are the only ones in
//! scope, `Event` is bevy's observer event, `Message*` are bevy's messages); its tests run the
//! common items of both.

use bevy_ecs::prelude::*;
use tickbus::prelude::*;

/// A component, derived with bevy's derive (both preludes export the same `Component`).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Health(pub i32);

/// A tickbus event: any `Send + Sync + 'static` type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Damage(pub i32);

/// A bevy observer event: `Event` in scope is bevy's.
#[derive(Event, Clone, Copy, Debug)]
pub struct Healed(pub i32);

/// A bevy message (buffered event), unrelated to tickbus's queues.
#[derive(Message, Clone, Copy, Debug)]
pub struct Logged;

/// Phases, with bevy's `SystemSet` derive.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Damage is dealt.
    Combat,
    /// Health is checked.
    Cleanup,
}

/// Damage taken this tick, from a tickbus reader.
pub fn take_damage(hits: EventReader<Damage>, mut targets: Query<&mut Health>) {
    let total: i32 = hits.iter().map(|hit| hit.0).sum();
    for mut health in &mut targets {
        health.0 -= total;
    }
}

/// Health that changed or appeared this tick.
type Fresh<'w, 's> = Query<'w, 's, (Entity, &'static Health), Or<(Changed<Health>, Added<Health>)>>;

/// Removes the dead, with bevy's `Commands` and query filters.
pub fn bury(dead: Fresh, mut commands: Commands) {
    for (entity, health) in &dead {
        if health.0 <= 0 {
            commands.entity(entity).despawn();
        }
    }
}

/// Hits back, with a tickbus writer and tickbus's time.
pub fn retaliate(time: Res<SimTime>, mut out: EventWriter<Damage>) {
    if time.tick() == 0 {
        out.send(Damage(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_preludes_together_build_and_run_a_bevy_shaped_schedule() {
        let mut app = App::new();
        let hits = app.add_source::<Damage>(SourceConfig::unbounded());
        app.configure_sets((Phase::Combat, Phase::Cleanup).chain())
            .add_systems((take_damage, retaliate).chain().in_set(Phase::Combat))
            .add_systems(
                bury.in_set(Phase::Cleanup)
                    .run_if(not(resource_exists::<Paused>)),
            );
        let target = app.world_mut().spawn(Health(5)).id();
        let mut engine = app.build().expect("a valid schedule");
        hits.send(Damage(3)).expect("the engine holds the receiver");
        engine.run_ticks(1).expect("tick 0");
        assert_eq!(engine.world().get::<Health>(target), Some(&Health(2)));
        hits.send(Damage(1)).expect("the engine holds the receiver");
        engine.run_ticks(1).expect("tick 1"); // 1 sent + 1 retaliation from tick 0
        assert!(engine.world().get_entity(target).is_err(), "buried");
    }

    #[test]
    fn bevys_observers_and_messages_still_mean_what_they_mean_in_bevy() {
        let mut world = World::new();
        world.init_resource::<Messages<Logged>>();
        world.add_observer(|healed: On<Healed>, mut commands: Commands| {
            commands.spawn(Health(healed.0));
        });
        world.trigger(Healed(7));
        world.flush();
        world.write_message(Logged);
        let mut healths = world.query::<&Health>();
        assert_eq!(healths.iter(&world).map(|h| h.0).collect::<Vec<_>>(), [7]);
        assert_eq!(world.resource::<Messages<Logged>>().len(), 1);
    }

    /// Never inserted: the run condition above must let `bury` run.
    #[derive(Resource)]
    struct Paused;
}

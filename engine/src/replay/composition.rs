//! What an app is made of, recorded with a scenario: a replay that diverges compares it with
//! its own app and names a changed composition as the likely cause.

use bevy_ecs::{component::IS_RESOURCE, world::World};

use super::{Composition, StateHasher, state::short_type_name};
use crate::Engine;

/// The composition of `engine`, whose simulation state `state` registers.
pub(crate) fn composition_of(engine: &Engine, state: &StateHasher) -> Composition {
    let plan = engine.schedule_plan();
    Composition {
        systems: plan
            .systems
            .iter()
            .map(|system| system.name.clone())
            .collect(),
        state: state
            .registered()
            .map(|(name, kind)| format!("{} {name}", kind.as_str()))
            .collect(),
        resources: resource_names(engine.world()),
    }
}

/// The short names of the resource types in `world`, sorted.
fn resource_names(world: &World) -> Vec<String> {
    let mut names: Vec<String> = world
        .archetypes()
        .iter()
        .filter(|archetype| archetype.contains(IS_RESOURCE) && !archetype.is_empty())
        .flat_map(|archetype| archetype.components().iter().copied())
        .filter(|&id| id != IS_RESOURCE)
        .filter_map(|id| world.components().get_name(id))
        .map(|name| short_type_name(&name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_what_was_added_and_removed() {
        let recorded = Composition {
            systems: vec!["a".into(), "b".into()],
            state: vec!["component Body".into()],
            resources: vec!["Score".into()],
        };
        let mut now = recorded.clone();
        now.resources.push("DebugOverlay".into());
        assert_eq!(recorded.changes_to(&now), ["+ resource DebugOverlay"]);
        assert!(recorded.changes_to(&recorded).is_empty());
        now.systems.reverse();
        now.resources.pop();
        assert_eq!(
            recorded.changes_to(&now),
            ["systems registered in another order"]
        );
    }
}

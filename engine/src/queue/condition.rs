//! The run condition "an event of this type is readable".

use bevy_ecs::system::Res;

use crate::{Event, EventQueue};

/// A run condition that holds in ticks where at least one event of type `T` is readable
/// (tickbus's counterpart of bevy's `on_message`). It only looks at the queue: it does not
/// count as a reader, so a tick in which no reader ran still counts the events unconsumed.
///
/// ```
/// use tickbus::prelude::*;
///
/// #[derive(Debug, Clone, Copy)]
/// struct Coin;
///
/// #[derive(Resource, Default)]
/// struct Ticks(Vec<u64>);
///
/// fn collect(time: Res<SimTime>, mut ticks: ResMut<Ticks>) {
///     ticks.0.push(time.tick());
/// }
///
/// let mut app = App::new();
/// let coins = app.add_source::<Coin>(SourceConfig::unbounded());
/// app.init_resource::<Ticks>().add_systems(collect.run_if(on_event::<Coin>));
/// let mut engine = app.build()?;
/// engine.run_ticks(2)?;
/// coins.send(Coin)?;
/// engine.run_ticks(2)?;
/// assert_eq!(engine.world().resource::<Ticks>().0, vec![2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn on_event<T: Event>(queue: Option<Res<EventQueue<T>>>) -> bool {
    queue.is_some_and(|queue| !queue.readable().is_empty())
}

//! A channel source of `Input` events and a reader that logs each one with its tick: what
//! the ingestion and batch tests watch.

use tickbus::prelude::*;

/// The event sent through the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input(pub u32);

/// Every input read, as (tick, value), in reading order.
#[derive(Resource, Default)]
pub struct Log(pub Vec<(u64, u32)>);

/// The reader system: appends this tick's inputs to [`Log`].
pub fn log_inputs(inputs: EventReader<Input>, time: Res<SimTime>, mut log: ResMut<Log>) {
    log.0
        .extend(inputs.iter().map(|input| (time.tick(), input.0)));
}

/// An engine with one `Input` source made with `config` and the logging reader.
pub fn engine_with_source(config: SourceConfig) -> (Engine, EventSender<Input>) {
    let mut app = App::new();
    let sender = app.add_source::<Input>(config);
    app.init_resource::<Log>().add_systems(log_inputs);
    (app.build().unwrap(), sender)
}

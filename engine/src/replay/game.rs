//! What a recordable game is: a name, a configuration, an input type, how to build it and
//! which state to hash.

use std::fmt::Debug;

use serde::{Serialize, de::DeserializeOwned};

use crate::{App, BuildError, Engine, Event, EventSender, ExecutorKind, SourceConfig};

use super::{EntityScheme, Scenario, ScenarioError, SimSeed, StateHasher, TimedInput};

/// A game (or simulation) that can be recorded and replayed.
///
/// Everything that shapes a run must come from `config`, the [`SimSeed`] resource, the tick
/// rate and the recorded inputs: the replayer rebuilds the game from exactly these. The
/// recorded input source is added by the recorder or replayer *before* [`build`](Self::build)
/// (so it is the first source); games read it with `EventReader<Self::Input>`.
pub trait Game: 'static {
    /// The name stored in scenarios; a scenario of another game is refused.
    const NAME: &'static str;
    /// The game's configuration, stored in the scenario. Derive `Deserialize` with
    /// `#[serde(deny_unknown_fields)]` (on the config and the input types) so that a file
    /// written for another game or version is refused at the line of the unknown field
    /// instead of being half-read.
    type Config: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// The recorded external input (an enum when there are several kinds). `Debug` is for
    /// snapshot reports and dumps.
    type Input: Event + Clone + Debug + Serialize + DeserializeOwned;

    /// Adds the game's events, systems, resources and initial entities to `app`. The seed is
    /// already in the world as [`SimSeed`]; the scenario's tick rate is applied after this.
    fn build(config: &Self::Config, app: &mut App);

    /// Registers the components and resources that make up the simulation state.
    fn register_state(hasher: &mut StateHasher);

    /// The channel of the recorded input source (default: unbounded, no budget).
    fn input_source() -> SourceConfig {
        SourceConfig::unbounded().name(format!("{} input", Self::NAME))
    }

    /// Checks a configuration read from a scenario before the game is built from it. A game
    /// refuses here what it cannot run (counts that would exhaust memory, say), so an edited
    /// file is refused with the position of its `config` instead of aborting the replay
    /// ([`ScenarioError::InvalidConfig`]). The default accepts every configuration.
    fn validate_config(config: &Self::Config) -> Result<(), ConfigRefusal> {
        let _ = config;
        Ok(())
    }
}

/// Why a game refused a configuration: the game's own error type, boxed.
pub type ConfigRefusal = Box<dyn std::error::Error + Send + Sync>;

/// The scenario of the game `G`.
pub type GameScenario<G> = Scenario<<G as Game>::Config, <G as Game>::Input>;

/// How a recorded or replayed run is set up, besides the game's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSetup {
    /// The simulation seed.
    pub seed: u64,
    /// Ticks per simulated second.
    pub tick_rate: u32,
    /// The executor running the systems.
    pub executor: ExecutorKind,
}

/// Builds `G` exactly as the [`Recorder`](super::Recorder) and the
/// [`Replayer`](super::Replayer) build it: a new app with the executor of `setup`, the seed
/// inserted as [`SimSeed`], the game's input source added first (so it is the first source),
/// then [`Game::build`], then the tick rate of `setup` (it wins over the game's). Returns the
/// engine and the sender of the input source.
///
/// Use it to run a game live (real time, a bevy app) the same way its scenarios run, so a
/// live session can be recorded and replayed without surprises.
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::replay::{Game, RunSetup, StateHasher, build_game};
///
/// struct Echo;
///
/// #[derive(Resource, Default, Clone, Debug)]
/// struct Sum(u64);
/// tickbus::impl_stable_hash!(Sum { 0 });
///
/// fn add(inputs: EventReader<u64>, mut sum: ResMut<Sum>) {
///     sum.0 += inputs.iter().sum::<u64>();
/// }
///
/// impl Game for Echo {
///     const NAME: &'static str = "echo";
///     type Config = ();
///     type Input = u64;
///     fn build(_: &(), app: &mut App) {
///         app.init_resource::<Sum>().add_systems(add);
///     }
///     fn register_state(hasher: &mut StateHasher) {
///         hasher.resource::<Sum>();
///     }
/// }
///
/// let setup = RunSetup { seed: 1, tick_rate: 30, executor: ExecutorKind::Sequential };
/// let (mut engine, input) = build_game::<Echo>(&(), setup)?;
/// input.send(5)?;
/// engine.run_ticks(1)?;
/// assert_eq!(engine.world().resource::<Sum>().0, 5);
/// assert_eq!(engine.world().resource::<SimSeed>().0, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_game<G: Game>(
    config: &G::Config,
    setup: RunSetup,
) -> Result<(Engine, EventSender<G::Input>), BuildError> {
    build_game_numbering::<G>(config, setup, EntityScheme::Current)
}

/// [`build_game`] for a scenario recorded with the entity scheme `entities`: a version-1
/// recording numbered its entities from an allocator that had not been primed.
pub(crate) fn build_game_numbering<G: Game>(
    config: &G::Config,
    setup: RunSetup,
    entities: EntityScheme,
) -> Result<(Engine, EventSender<G::Input>), BuildError> {
    let mut app = App::new();
    if entities == EntityScheme::Current {
        prime_entity_allocator(app.world_mut());
    }
    app.set_executor(setup.executor)
        .insert_resource(SimSeed(setup.seed));
    let input = app.add_source::<G::Input>(G::input_source());
    G::build(config, &mut app);
    // After the game: the scenario's tick rate wins over whatever the game chose.
    app.set_tick_rate(setup.tick_rate);
    Ok((app.build()?, input))
}

/// Frees one entity id before anything else happens, so that every game world has freed an
/// id: bevy's allocator can only be rebuilt exactly (restoring a
/// [`Snapshot`](super::Snapshot)) into a world whose buffer of freed ids is not empty, and
/// a buffer once used is never empty again.
fn prime_entity_allocator(world: &mut bevy_ecs::world::World) {
    world.spawn_empty().despawn();
}

/// The state of `G`: what [`Game::register_state`] registers, and the input type (its
/// events in flight are part of a snapshot). Hashes a live run's state as checkpoints do,
/// and says what a [`Snapshot`](super::Snapshot) copies.
pub fn state_hasher<G: Game>() -> StateHasher {
    let mut hasher = StateHasher::new();
    G::register_state(&mut hasher);
    hasher.ensure_event::<G::Input>();
    hasher
}

/// Checks that `scenario` is one `G` can run: this format version, `G`'s name, valid tick
/// orders and ranges. `file` names it in errors.
pub(crate) fn check_playable<G: Game>(
    scenario: &GameScenario<G>,
    file: &str,
) -> Result<(), ScenarioError> {
    scenario.check(G::NAME, file)?;
    check_config::<G>(&scenario.config, file)
}

/// Asks `G` whether it can run `config` ([`Game::validate_config`]); `file` names the
/// scenario in the error.
pub(crate) fn check_config<G: Game>(config: &G::Config, file: &str) -> Result<(), ScenarioError> {
    G::validate_config(config).map_err(|reason| ScenarioError::InvalidConfig {
        file: file.to_owned(),
        position: None,
        reason,
    })
}

/// Replaces the live channel of `G`'s recorded source by `inputs`, each delivered in the
/// collect step of its tick.
pub(crate) fn feed_inputs<G: Game>(engine: &mut Engine, inputs: &[TimedInput<G::Input>]) {
    feed_inputs_from::<G>(engine, inputs, 0);
}

/// Like [`feed_inputs`], for a run that continues at tick `from` (a restored snapshot).
pub(crate) fn feed_inputs_from<G: Game>(
    engine: &mut Engine,
    inputs: &[TimedInput<G::Input>],
    from: u64,
) {
    let start = inputs.partition_point(|input| input.tick < from);
    // The feed outlives this borrow: it owns its copy of the inputs.
    let owned: Vec<TimedInput<G::Input>> = inputs[start..].to_vec();
    let mut pending = owned.into_iter().peekable();
    if let Some(source) = engine.source_mut::<G::Input>() {
        source.set_feed(Box::new(move |tick, events| {
            while let Some(input) = pending.next_if(|input| input.tick <= tick) {
                events.push(input.event);
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::replay::{Replayer, TextPosition};

    /// A game whose config is a count it refuses above ten.
    struct Bounded;

    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Count {
        count: u32,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("count {0} is more than 10")]
    struct TooMany(u32);

    impl Game for Bounded {
        const NAME: &'static str = "bounded";
        type Config = Count;
        type Input = u64;
        fn build(_: &Count, _: &mut App) {}
        fn register_state(_: &mut StateHasher) {}
        fn validate_config(config: &Count) -> Result<(), ConfigRefusal> {
            match config.count {
                count if count > 10 => Err(Box::new(TooMany(count))),
                _ => Ok(()),
            }
        }
    }

    fn scenario_text(count: u32) -> String {
        format!(
            "(\n  format_version: 1,\n  game: \"bounded\",\n  seed: 0,\n  tick_rate: 60,\n  \
             ticks: 1,\n  config: (count: {count}),\n  inputs: [],\n  checkpoints: [],\n)\n"
        )
    }

    #[test]
    fn the_loader_refuses_a_config_the_game_refuses_at_its_position() {
        let accepted = Scenario::parse::<Bounded>(&scenario_text(10), "ok.ron");
        assert_eq!(
            accepted.map(|scenario| scenario.config.count).ok(),
            Some(10)
        );

        let refused = Scenario::parse::<Bounded>(&scenario_text(4_000_000_000), "big.ron")
            .expect_err("a count above 10 is refused");
        assert!(
            matches!(refused, ScenarioError::InvalidConfig { .. }),
            "{refused:?}"
        );
        assert_eq!(
            refused.position(),
            Some(TextPosition {
                line: 7,
                column: 11
            })
        );
        assert_eq!(
            refused.to_string(),
            "big.ron:7:11: the game refuses this config: count 4000000000 is more than 10"
        );
    }

    #[test]
    fn a_replay_of_a_scenario_built_in_memory_asks_the_game_too() {
        let mut scenario = Scenario::parse::<Bounded>(&scenario_text(1), "ok.ron").unwrap();
        scenario.config.count = 11;
        let refused = Replayer::<Bounded>::new(&scenario).run();
        assert!(
            matches!(
                refused,
                Err(crate::replay::ReplayError::Scenario(
                    ScenarioError::InvalidConfig { .. }
                ))
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn games_accept_every_config_by_default() {
        struct Open;
        impl Game for Open {
            const NAME: &'static str = "open";
            type Config = u32;
            type Input = u64;
            fn build(_: &u32, _: &mut App) {}
            fn register_state(_: &mut StateHasher) {}
        }
        assert!(Open::validate_config(&u32::MAX).is_ok());
    }
}

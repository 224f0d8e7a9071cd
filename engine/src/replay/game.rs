//! What a recordable game is: a name, a configuration, an input type, how to build it and
//! which state to hash.

use serde::{Serialize, de::DeserializeOwned};

use crate::{App, BuildError, Engine, Event, EventSender, ExecutorKind, SourceConfig};

use super::{FORMAT_VERSION, Scenario, ScenarioError, SimSeed, StateHasher, TimedInput};

/// A game (or simulation) that can be recorded and replayed.
///
/// Everything that shapes a run must come from `config`, the [`SimSeed`] resource, the tick
/// rate and the recorded inputs: the replayer rebuilds the game from exactly these. The
/// recorded input source is added by the recorder or replayer *before* [`build`](Self::build)
/// (so it is the first source); games read it with `EventReader<Self::Input>`.
pub trait Game: 'static {
    /// The name stored in scenarios; a scenario of another game is refused.
    const NAME: &'static str;
    /// The game's configuration, stored in the scenario.
    type Config: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// The recorded external input (an enum when there are several kinds).
    type Input: Event + Clone + Serialize + DeserializeOwned;

    /// Adds the game's events, systems, resources and initial entities to `app`. The seed is
    /// already in the world as [`SimSeed`]; the scenario's tick rate is applied after this.
    fn build(config: &Self::Config, app: &mut App);

    /// Registers the components and resources that make up the simulation state.
    fn register_state(hasher: &mut StateHasher);

    /// The channel of the recorded input source (default: unbounded, no budget).
    fn input_source() -> SourceConfig {
        SourceConfig::unbounded().name(format!("{} input", Self::NAME))
    }
}

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

/// Builds `G` live exactly as a [`Recorder`](super::Recorder) or [`Replayer`](super::Replayer)
/// does: its recorded input source first (the returned sender feeds it), the seed inserted as
/// [`SimSeed`] before [`Game::build`], then the tick rate. For playing a game without
/// recording it, and for tests that set up a situation in the world and tick it.
///
/// ```
/// use tickbus::prelude::*;
/// use tickbus::replay::{Game, RunSetup, StateHasher, build_game};
///
/// struct Echo;
/// #[derive(Resource, Default)]
/// struct Last(u32);
///
/// fn remember(inputs: EventReader<u32>, mut last: ResMut<Last>) {
///     if let Some(input) = inputs.iter().last() {
///         last.0 = *input;
///     }
/// }
///
/// impl Game for Echo {
///     const NAME: &'static str = "echo";
///     type Config = ();
///     type Input = u32;
///     fn build(_: &(), app: &mut App) {
///         app.init_resource::<Last>().add_system(remember);
///     }
///     fn register_state(_: &mut StateHasher) {}
/// }
///
/// let setup = RunSetup { seed: 3, tick_rate: 30, executor: ExecutorKind::Sequential };
/// let (mut engine, input) = build_game::<Echo>(&(), setup)?;
/// input.send(9)?;
/// engine.tick()?;
/// assert_eq!(engine.world().resource::<Last>().0, 9);
/// assert_eq!(engine.world().resource::<SimSeed>().0, 3);
/// assert_eq!(engine.fixed_step().dt(), std::time::Duration::from_secs(1) / 30);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_game<G: Game>(
    config: &G::Config,
    setup: RunSetup,
) -> Result<(Engine, EventSender<G::Input>), BuildError> {
    let mut app = App::new();
    app.set_executor(setup.executor)
        .insert_resource(SimSeed(setup.seed));
    let input = app.add_source::<G::Input>(G::input_source());
    G::build(config, &mut app);
    // After the game: the scenario's tick rate wins over whatever the game chose.
    app.set_tick_rate(setup.tick_rate);
    Ok((app.build()?, input))
}

/// The state hasher of `G`.
pub(crate) fn state_hasher<G: Game>() -> StateHasher {
    let mut hasher = StateHasher::new();
    G::register_state(&mut hasher);
    hasher
}

/// Checks that `scenario` is one `G` can run: this format version, `G`'s name, valid tick
/// orders and ranges. `file` names it in errors.
pub(crate) fn check_playable<G: Game>(
    scenario: &GameScenario<G>,
    file: &str,
) -> Result<(), ScenarioError> {
    if scenario.format_version != FORMAT_VERSION {
        return Err(ScenarioError::UnsupportedVersion {
            file: file.to_owned(),
            found: scenario.format_version,
            supported: FORMAT_VERSION,
        });
    }
    if scenario.game != G::NAME {
        return Err(ScenarioError::WrongGame {
            file: file.to_owned(),
            expected: G::NAME.to_owned(),
            found: scenario.game.clone(),
        });
    }
    scenario.validate(file)
}

/// Replaces the live channel of `G`'s recorded source by `inputs`, each delivered in the
/// collect step of its tick.
pub(crate) fn feed_inputs<G: Game>(engine: &mut Engine, inputs: &[TimedInput<G::Input>]) {
    // The feed outlives this borrow: it owns its copy of the inputs.
    let owned: Vec<TimedInput<G::Input>> = inputs.to_vec();
    let mut pending = owned.into_iter().peekable();
    if let Some(source) = engine.source_mut::<G::Input>() {
        source.set_feed(Box::new(move |tick, events| {
            while let Some(input) = pending.next_if(|input| input.tick <= tick) {
                events.push(input.event);
            }
        }));
    }
}

//! A game with no systems whose scenarios are as large as asked: material for the tests of
//! saving (a kill in the middle of writing a large file, a disk that fills up).

use tickbus::{
    App,
    replay::{FORMAT_VERSION, Game, GameScenario, Scenario, StateHasher},
};

/// The game: its configuration is a text of any size, it has no systems.
pub struct Blob;

impl Game for Blob {
    const NAME: &'static str = "blob";
    type Config = String;
    type Input = u8;

    fn build(_: &String, _: &mut App) {}

    fn register_state(_: &mut StateHasher) {}
}

/// A scenario of about `bytes` bytes whose text differs for each `variant`.
pub fn large_scenario(variant: u8, bytes: usize) -> GameScenario<Blob> {
    let letter = char::from(b'a' + variant % 26);
    Scenario {
        format_version: FORMAT_VERSION,
        game: Blob::NAME.to_owned(),
        seed: u64::from(variant),
        tick_rate: 60,
        ticks: 0,
        config: letter.to_string().repeat(bytes),
        inputs: Vec::new(),
        checkpoints: Vec::new(),
        crash: None,
        composition: None,
        branched_from: None,
        entity_scheme: Default::default(),
    }
}

//! # game-demo
//!
//! An asteroids-like arcade game on tickbus, and the command line that plays, records and
//! replays it.
//!
//! * [`game`]: the simulation, a recordable [`Game`](tickbus::replay::Game): components,
//!   resources, events, timers and the systems, registered in one place
//!   ([`game::build`]).
//! * [`bot`]: a scripted player that reads the world between ticks and sends commands, for
//!   headless recordings.
//! * [`view`]: draws the world into a grid of character cells (no terminal needed).
//! * [`output`]: output files named on a command line, opened before the run.
//! * [`scenarios`]: replaying scenario files and reporting on them, as the `replay`
//!   subcommand does.

pub mod bot;
pub mod game;
pub mod output;
pub mod scenarios;
pub mod view;

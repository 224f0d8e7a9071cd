//! `game-demo`: play the asteroids game on tickbus in a terminal, record games headless with
//! a bot, replay and verify recorded scenarios, print the schedule plan.
//!
//! Without a subcommand it plays when stdin and stdout are terminals, and otherwise replays
//! every scenario in `scenarios/` and prints the summary (so `cargo run --release` does
//! something useful anywhere, CI included).

mod cli;

use std::{io::Write, process::ExitCode};

use clap::Parser;

fn main() -> ExitCode {
    let arguments = cli::Arguments::parse();
    match cli::run(arguments) {
        Ok(code) => code,
        Err(error) => {
            // Not eprintln!: it panics when the terminal is gone.
            let _ = writeln!(std::io::stderr(), "error: {}", cli::error_text(&error));
            ExitCode::from(1)
        }
    }
}

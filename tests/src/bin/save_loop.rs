//! Saves large scenarios for the atomic-save tests (`tests/tests/save_atomic.rs`), which kill
//! it or limit its file size while it writes.
//!
//! `save_loop PATH BYTES` saves two different scenarios of about BYTES bytes to PATH in
//! turn, forever, printing `saving` once the first save starts. `save_loop --once PATH BYTES`
//! saves one scenario (the second variant) and exits with 3 and the error on stderr if the
//! save fails.

use std::{io::Write, process::ExitCode};

use tickbus_tests::blob::large_scenario;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (once, rest) = match args.first().map(String::as_str) {
        Some("--once") => (true, &args[1..]),
        _ => (false, &args[..]),
    };
    let [path, bytes] = rest else {
        eprintln!("usage: save_loop [--once] PATH BYTES");
        return ExitCode::from(2);
    };
    let Ok(bytes) = bytes.parse::<usize>() else {
        eprintln!("BYTES must be a number, not {bytes:?}");
        return ExitCode::from(2);
    };
    let scenarios = [large_scenario(0, bytes), large_scenario(1, bytes)];
    if once {
        return match scenarios[1].save(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{error}");
                ExitCode::from(3)
            }
        };
    }
    println!("saving");
    let _ = std::io::stdout().flush();
    for round in 0usize.. {
        if let Err(error) = scenarios[round % 2].save(path) {
            eprintln!("{error}");
            return ExitCode::from(3);
        }
    }
    ExitCode::SUCCESS
}

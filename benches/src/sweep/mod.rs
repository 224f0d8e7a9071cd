//! The `tickbus-bench` sweep: every contender measured on the same workload in interleaved
//! rounds, the statistics and ratios of the table, the JSON file of every sample and the
//! SVG plot. The binary (`src/bin/tickbus_bench.rs`) only parses arguments and prints.

pub mod ingest;
pub mod measure;
mod pipelined;
pub mod plot;
pub mod report;
pub mod roofline;
pub mod stats;
pub mod throughput;

/// A command-line parser for a count from `min` to `max`, whose error names the flag and the
/// range (`0 is not in 1..=64`).
pub fn count_in(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(min..=max)
}

/// The same for a length in milliseconds.
pub fn millis_in(min: u64, max: u64) -> clap::builder::RangedU64ValueParser<u64> {
    clap::builder::RangedU64ValueParser::<u64>::new().range(min..=max)
}

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

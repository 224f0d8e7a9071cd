//! Benchmark `event_throughput` (to be written).

fn main() {}

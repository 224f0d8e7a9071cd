//! Benchmark `timers` (to be written).

fn main() {}

//! Benchmark `physics` (to be written).

fn main() {}

//! Benchmark `schedule` (to be written).

fn main() {}

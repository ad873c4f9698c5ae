//! Placeholder; replaced by the transform benchmarks.
fn main() {}

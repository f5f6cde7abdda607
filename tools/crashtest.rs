//! Crash test (being written).
fn main() {}

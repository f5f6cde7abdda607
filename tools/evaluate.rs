//! Evaluation harness (being written).
fn main() {}
